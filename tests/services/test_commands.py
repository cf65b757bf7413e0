"""The command registry on a real Redis, two registries standing for two instances: a dead
owner is declared lost exactly once, and an owner that comes back cannot add a second end."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from redis.exceptions import ConnectionError as RedisConnectionError

from voice_mcp.errors import AppError
from voice_mcp.services.commands import CommandInfo, CommandRegistry, new_instance_id
from voice_mcp.services.commands.redis_keys import CommandKeys

INFO = CommandInfo("alice", "what time is it", "conv")


class _Event:
    def __init__(self, kind: str, data: dict[str, Any]) -> None:
        self.kind, self.data = kind, data

    def wire(self) -> dict[str, Any]:
        return self.data


async def gated(gate: asyncio.Event) -> AsyncIterator[_Event]:
    yield _Event("progress", {"type": "analyzing", "message": "m", "timestamp": 0})
    await gate.wait()
    yield _Event("done", {"success": True, "status": "completed", "query": INFO.query})


@pytest.fixture
async def pair(redis_client) -> AsyncIterator[tuple[CommandRegistry, CommandRegistry]]:
    made = [CommandRegistry(redis_client, new_instance_id(), grace_s=30, events_ttl_s=60,
                            budget_s=10) for _ in range(2)]
    yield made[0], made[1]
    for registry in made:
        await registry.upkeep.close()
        await registry.feeds.close()


async def test_a_lost_owner_is_declared_once_and_cannot_end_it_again(pair, redis_client) -> None:
    owner, other = pair
    gate = asyncio.Event()
    running = await owner.start(INFO, gated(gate))
    reader = owner.attach(running)
    first = await anext(reader)
    await running.recorder.drain()
    await redis_client.delete(CommandKeys.of(running.id).lease)  # the lease ran out
    views = await asyncio.gather(*(other.view("alice", running.id) for _ in range(5)))
    assert {v.status for v in views} == {"failed"}
    assert views[0].done is not None and views[0].done["error"]["code"] == "instance_lost"
    gate.set()  # the owner was only slow: it finishes, but may not write a second end
    assert (await anext(reader)).kind == "done"
    await running.recorder.drain()
    assert running.recorder.broken
    stored = await redis_client.xrange(CommandKeys.of(running.id).events)
    kinds = [fields[b"k"] for _, fields in stored]
    assert kinds == [b"progress", b"error", b"done"], "one declaration, one done"
    assert first.data["commandId"] == running.id
    await reader.aclose()


async def test_another_users_command_and_malformed_ids(pair) -> None:
    owner, other = pair
    gate = asyncio.Event()
    running = await owner.start(INFO, gated(gate))
    await running.recorder.drain()
    for registry in (owner, other):
        with pytest.raises(AppError) as caught:
            await registry.view("alice:x", running.id)
        assert caught.value.status == 404
        with pytest.raises(AppError) as caught:
            await registry.cancel("alice", "../../etc")
        assert caught.value.status == 400
    gate.set()


async def test_a_command_is_readable_elsewhere_before_its_first_event_leaves(pair) -> None:
    """A resume on another instance right after the first event never answers 404: the
    record is written before the command runs (the events follow in 5 ms batches)."""
    owner, other = pair
    gate = asyncio.Event()
    running = await owner.start(INFO, gated(gate))
    local = owner.attach(running)
    first = await anext(local)  # the first event has left: its commandId is known
    view = await other.view("alice", first.data["commandId"])  # no wait for the batch
    assert view.status == "running"
    resumed = await other.open("alice", running.id, first.seq)
    gate.set()
    assert (await anext(resumed)).kind == "done"
    await resumed.aclose()
    await local.aclose()


async def test_remote_listeners_of_a_command_share_one_redis_reader(pair, redis_client) -> None:
    owner, other = pair
    gate = asyncio.Event()
    running = await owner.start(INFO, gated(gate))
    listeners = [await other.open("alice", running.id, 0) for _ in range(10)]
    firsts = [await anext(listener) for listener in listeners]
    assert {e.seq for e in firsts} == {1}
    # One reader in the command's reader set, one feed (one pooled connection in XREAD).
    assert await redis_client.zcard(CommandKeys.of(running.id).readers) == 1
    assert list(other.feeds.feeds) == [running.id]
    gate.set()
    for listener in listeners:
        assert (await anext(listener)).kind == "done"
        with pytest.raises(StopAsyncIteration):
            await anext(listener)
    assert other.feeds.feeds == {} and not other.feeds._users  # every place given back


async def test_remote_listeners_past_a_cap_get_429(pair) -> None:
    from voice_mcp.services.commands.feeds import Feeds

    owner, other = pair
    other.feeds = Feeds(per_user=3, per_command=2, feeds=2)
    gate = asyncio.Event()
    one, two, three = [await owner.start(info, gated(gate)) for info in (
        INFO, INFO, CommandInfo("bob", "q", "c"))]
    opened = [await other.open("alice", one.id, 0), await other.open("alice", one.id, 0)]
    for user, command, cap in (("alice", one.id, "readers here"),  # per command
                               ("bob", three.id, "commands are followed")):  # per instance
        if cap == "commands are followed":
            opened.append(await other.open("alice", two.id, 0))
        with pytest.raises(AppError) as caught:
            await other.open(user, command, 0)
        assert (caught.value.status, caught.value.code) == (429, "too_many_readers")
        assert cap in caught.value.message
    with pytest.raises(AppError) as caught:  # alice has 3: per user
        await other.open("alice", two.id, 0)
    assert "You already follow 3" in caught.value.message
    for listener in opened:  # closed unstarted: the places come back
        await listener.aclose()  # type: ignore[attr-defined]
    assert other.feeds.feeds == {}
    last = await other.open("bob", three.id, 0)
    await anext(last)
    await last.aclose()  # type: ignore[attr-defined]
    gate.set()


class FlakyScript:
    """The append script, whose reply is lost `lost` times after it ran (a failover)."""

    def __init__(self, script: Any, lost: int) -> None:
        self.script, self.lost, self.calls = script, lost, 0

    async def __call__(self, **kwargs: Any) -> Any:
        self.calls += 1
        result = await self.script(**kwargs)
        if self.lost:
            self.lost -= 1
            raise RedisConnectionError("reply lost")
        return result


async def test_a_batch_sent_again_after_a_lost_reply_is_written_once(pair, redis_client) -> None:
    owner, other = pair
    owner._append = FlakyScript(owner._append, lost=2)  # type: ignore[assignment]
    gate = asyncio.Event()
    running = await owner.start(INFO, gated(gate))
    reader = owner.attach(running)
    await anext(reader)
    gate.set()
    assert (await anext(reader)).kind == "done"
    await running.recorder.drain()
    assert not running.recorder.broken and owner._append.calls >= 3  # type: ignore[attr-defined]
    stored = await redis_client.xrange(CommandKeys.of(running.id).events)
    assert [fields[b"k"] for _, fields in stored] == [b"progress", b"done"]
    assert (await other.view("alice", running.id)).status == "completed"
