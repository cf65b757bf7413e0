"""Two server instances on a real Redis Cluster (docs/operations.md, "Redis Cluster"): resume,
join, cancel and confirm anywhere, through a manual failover and a primary killed mid-command.

The `cluster` tier: six redis-server nodes start once for the module (`-m cluster`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.cluster import events_of, read_until, two_instances, wait_ready
from tests.fakes.openai_server import call
from tests.redis_cluster import RedisClusterNodes, wait_for
from tests.test_redis_tls import make_certificates
from tests.test_resume import (  # the same acceptance tests, here on a cluster
    GRACE_S,
    SECRET,
    auth,
    command_completes,
    command_id,
    session,
    settled,
    start_gated,
    test_a_command_nobody_reads_is_cancelled_after_the_grace,
    test_a_dead_owner_gives_instance_lost_to_readers_elsewhere,
    test_a_second_client_joins_a_running_command,
    test_ask_reconnects_by_itself_and_says_so,
    test_cancel_from_the_other_instance_stops_the_tool,
    test_resume_on_the_other_instance_gets_exactly_the_rest,
)
from tests.test_resume import respond as resume_respond
from voice_mcp.services.commands.cancel_bus import CancelListener, relay_cancel
from voice_mcp.services.commands.redis_keys import CommandKeys
from voice_mcp.services.confirmations import ConfirmationStore, PendingAction
from voice_mcp.services.store import make_pool, ping

pytestmark = pytest.mark.cluster
ACTION = PendingAction(service="notes", tool="delete_note", arguments={"note_id": 1},
                       risk="high", reason="deletes", call_id="call_1")
CONFIRM = "/api/voice/confirm"

__all__ = ["session", "test_a_command_nobody_reads_is_cancelled_after_the_grace",
           "test_a_dead_owner_gives_instance_lost_to_readers_elsewhere",
           "test_a_second_client_joins_a_running_command",
           "test_ask_reconnects_by_itself_and_says_so",
           "test_cancel_from_the_other_instance_stops_the_tool",
           "test_resume_on_the_other_instance_gets_exactly_the_rest"]


def respond(body: dict[str, Any]) -> Any:
    """The LLM of tests/test_resume.py, and a held delete for "delete"."""
    messages = body.get("messages", [])
    if messages and messages[-1].get("role") == "user" and \
            str(messages[-1].get("content", "")).startswith("delete"):
        return call("notes__delete_note", {"note_id": 1})
    return resume_respond(body)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    nodes = RedisClusterNodes().start()
    try:
        with two_instances(nodes.url, tmp_path_factory.mktemp("redis-cluster"), respond, SECRET,
                           VOICE_MCP_RESUME_GRACE_S=str(GRACE_S),
                           VOICE_MCP_REDIS_CLUSTER="true") as found:
            yield {**found, "nodes": nodes}
    finally:
        nodes.stop()


async def hold_delete(session: aiohttp.ClientSession, base: str) -> str:
    resp = await session.post(f"{base}/api/voice/llm", json={"query": "delete note 1"},
                              headers=auth())
    done = await resp.json()
    assert done["status"] == "confirmation_required", done
    return str(done["confirmation"]["confirmationId"])


async def approve(session: aiohttp.ClientSession, base: str, confirmation_id: str
                  ) -> aiohttp.ClientResponse:
    return await session.post(f"{base}{CONFIRM}", headers=auth(),
                              json={"confirmationId": confirmation_id, "approved": True})


async def test_hold_on_one_instance_approve_on_the_other_once(cluster, session) -> None:
    a, b, notes = cluster["a"], cluster["b"], cluster["notes"]
    deletes = notes.stats.tool_calls["delete_note"]
    confirmation_id = await hold_delete(session, a.base)
    first, second = await asyncio.gather(approve(session, b.base, confirmation_id),
                                         approve(session, a.base, confirmation_id))
    assert sorted([first.status, second.status]) == [200, 409]
    assert notes.stats.tool_calls["delete_note"] == deletes + 1


async def test_readiness_reflects_the_cluster_state(cluster, session) -> None:
    ready = await session.get(f"{cluster['a'].base}/readyz")
    assert ready.status == 200 and (await ready.json())["status"] == "ready"


async def test_a_manual_failover_mid_command_loses_nothing(cluster, session) -> None:
    a, b, notes, nodes = cluster["a"], cluster["b"], cluster["notes"], cluster["nodes"]
    confirmation_id = await hold_delete(session, b.base)
    resp, events, before = await start_gated(session, a.base, notes)
    cid = command_id(before)
    primary = nodes.primary_of(CommandKeys.of(cid).meta)
    replica = nodes.replica_of(primary)
    with replica.client() as client:
        client.execute_command("CLUSTER FAILOVER")
    await asyncio.to_thread(wait_for, lambda: replica.role() == "master", 30, "no failover")
    await asyncio.to_thread(nodes.wait_healthy)
    notes.knobs.gate.set()
    rest = await read_until(events, lambda kind, _: kind == "done")
    resp.close()
    everything = before + rest
    assert [e[0] for e in everything] == list(range(1, len(everything) + 1))
    assert rest[-1][2]["status"] == "completed" and [e[1] for e in rest].count("done") == 1
    assert await settled(session, b.base, cid) == "completed"
    replay = await session.get(f"{b.base}/api/voice/commands/{cid}/events", headers=auth())
    assert await read_until(events_of(replay), lambda kind, _: kind == "done") == everything
    approved = await approve(session, a.base, confirmation_id)
    assert approved.status == 200, "the confirmation held before the failover still works"
    assert (await approve(session, b.base, confirmation_id)).status == 409


async def test_a_primary_killed_mid_command(cluster, session) -> None:
    """The command's node dies: the owner's readers get every event, a reader elsewhere
    ends cleanly (at worst without `done`, and resumes), the finished command stays readable,
    and clients meet only retryable errors while the replica takes over."""
    a, b, notes, nodes = cluster["a"], cluster["b"], cluster["notes"], cluster["nodes"]
    resp, events, before = await start_gated(session, a.base, notes)
    cid = command_id(before)
    watch = await session.get(f"{b.base}/api/voice/commands/{cid}/events",
                              headers={**auth(), "Last-Event-ID": str(before[-1][0])})
    watcher = events_of(watch)
    primary = nodes.primary_of(CommandKeys.of(cid).meta)
    replica = nodes.replica_of(primary)
    primary.kill()
    notes.knobs.gate.set()
    rest = await read_until(events, lambda kind, _: kind == "done")
    resp.close()
    everything = before + rest
    assert [e[0] for e in everything] == list(range(1, len(everything) + 1))
    assert rest[-1][2]["status"] == "completed"
    watched = await read_until(watcher, lambda kind, _: kind == "done")
    await asyncio.to_thread(wait_for, lambda: replica.role() == "master", 30, "no takeover")
    await asyncio.to_thread(nodes.wait_healthy)
    if not watched or watched[-1][1] != "done":  # the reader's stream ended: it resumes
        last = watched[-1][0] if watched else before[-1][0]
        watched += await resume_after_takeover(session, b.base, cid, last)
    assert watched == rest, "the reader elsewhere got exactly the rest"
    for base in (a.base, b.base):
        await wait_ready(session, base)
        assert await command_completes(session, base)
    replay = await session.get(f"{b.base}/api/voice/commands/{cid}/events", headers=auth())
    assert await read_until(events_of(replay), lambda kind, _: kind == "done") == everything


async def resume_after_takeover(session: aiohttp.ClientSession, base: str, cid: str,
                                last: int) -> list[tuple[int, str, dict[str, Any]]]:
    """The rest of a command after `last`, as a client resumes it: a pooled connection that
    died with the node may refuse the first try, only with the retryable 503 (its
    Retry-After is what a client waits; here a short pause)."""
    for _attempt in range(3):
        again = await session.get(f"{base}/api/voice/commands/{cid}/events",
                                  headers={**auth(), "Last-Event-ID": str(last)})
        if again.status != 503:
            return await read_until(events_of(again), lambda kind, _: kind == "done")
        body = await again.json()
        assert body["error"]["code"] == "redis_unavailable" and again.headers["Retry-After"]
        await asyncio.sleep(0.5)
    raise AssertionError("the command could not be resumed after the takeover")


async def test_a_tls_cluster_through_one_rediss_url(tmp_path: Path) -> None:
    """A managed cluster's shape: TLS only (between the nodes too), one node named."""
    nodes = await asyncio.to_thread(RedisClusterNodes(3, 0, make_certificates(tmp_path)).start)
    client = make_pool(nodes.url, cluster=True)
    try:
        assert await ping(client) is None
        store = ConfirmationStore(client, 60)
        pending = await store.create("alice", "c", [ACTION])
        assert (await store.take("alice", pending.id)).actions == [ACTION]
        heard: list[str] = []
        listener = CancelListener(client, "instance-1", heard.append)
        listening = asyncio.create_task(listener.run())
        try:
            async with asyncio.timeout(20):
                while not heard:  # the subscription may not be in place at the first publish
                    await relay_cancel(client, "instance-1", "command-1")
                    await asyncio.sleep(0.1)
        finally:
            listener.stopping = True
            await listening
        assert set(heard) == {"command-1"}
    finally:
        await client.aclose()
        await asyncio.to_thread(nodes.stop)
