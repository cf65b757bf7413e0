"""Commands that outlive a connection, across two real server processes on one Redis
(docs/resume.md): resume elsewhere, join, cancel elsewhere, grace expiry, a dead owner,
a Redis restart. The servers, Redis and the MCP server are shared by the module's tests."""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator, Iterator
from typing import Any

import aiohttp
import pytest
import redis.asyncio as aioredis
from rich.console import Console

from tests.cluster import (
    CuttableProxy,
    Instance,
    RestartableRedis,
    events_of,
    read_until,
    two_instances,
    wait_ready,
)
from tests.fakes.openai_server import call, text
from tests.mcp_servers.runner import RunningServer
from voice_mcp.client.ask import AskClient
from voice_mcp.client.http import HttpClient
from voice_mcp.services.auth import issue_dev_token
from voice_mcp.settings import Settings

SECRET = "cluster-secret-" + "c" * 32
STREAM = "/api/voice/llm/stream"
GRACE_S = 4
EXECUTING = ("progress", "executing")


def respond(body: dict[str, Any]) -> Any:
    """The LLM: run the tool the query names, then answer once its result came back."""
    messages = body.get("messages", [])
    if messages and messages[-1].get("role") == "tool":
        return text("All finished.")
    query = str(messages[-1].get("content", "")) if messages else ""
    if query.startswith("gate"):
        return call("notes__wait_for_gate")
    return text("Hello.")


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    redis = RestartableRedis()
    redis.start()
    try:
        with two_instances(redis.url, tmp_path_factory.mktemp("cluster"), respond, SECRET,
                           VOICE_MCP_RESUME_GRACE_S=str(GRACE_S)) as found:
            yield {**found, "redis": redis}
    finally:
        redis.stop()


def auth(user: str = "alice") -> dict[str, str]:
    token = issue_dev_token(Settings(_env_file=None, jwt_secret=SECRET), user)  # type: ignore[call-arg]
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
async def session(cluster: dict[str, Any]) -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as client, asyncio.timeout(60):
        for name in ("a", "b"):
            await wait_ready(client, cluster[name].base)
        cluster["notes"].knobs.gate.clear()
        yield client


async def start_gated(session: aiohttp.ClientSession, base: str, notes: RunningServer
                      ) -> tuple[aiohttp.ClientResponse, AsyncIterator[Any], list[Any]]:
    """Start a command whose tool waits on the gate; read up to its `executing` event."""
    calls = notes.stats.tool_calls["wait_for_gate"]
    resp = await session.post(f"{base}{STREAM}", json={"query": "gate please"}, headers=auth())
    events = events_of(resp)
    seen = await read_until(events, lambda kind, data: (kind, data.get("type")) == EXECUTING)
    await notes.stats.wait_for(lambda s: s.tool_calls["wait_for_gate"] > calls, timeout=20)
    return resp, events, seen


async def settled(session: aiohttp.ClientSession, base: str, cid: str) -> str:
    """The command's status once another instance has it as ended (its owner writes the end
    to Redis right after its own readers got `done`)."""
    async with asyncio.timeout(10):
        while True:
            status = await session.get(f"{base}/api/voice/commands/{cid}", headers=auth())
            body = await status.json()
            if body["status"] != "running":
                return str(body["status"])
            await asyncio.sleep(0.05)


def command_id(seen: list[Any]) -> str:
    return str(seen[0][2]["commandId"])


async def test_resume_on_the_other_instance_gets_exactly_the_rest(cluster, session) -> None:
    a, b, notes = cluster["a"], cluster["b"], cluster["notes"]
    resp, _, before = await start_gated(session, a.base, notes)
    resp.close()  # the phone lost its network between `executing` and `executed`
    cid, last = command_id(before), before[-1][0]
    resumed = await session.get(f"{b.base}/api/voice/commands/{cid}/events",
                                headers={**auth(), "Last-Event-ID": str(last)})
    rest_events = events_of(resumed)
    notes.knobs.gate.set()
    rest = await read_until(rest_events, lambda kind, _: kind == "done")
    assert [e[0] for e in rest] == list(range(last + 1, last + 1 + len(rest))), "no gap, no dup"
    assert rest[0][2]["type"] == "executed" and rest[0][2]["tool"] == "wait_for_gate"
    assert [e[1] for e in rest].count("done") == 1 and rest[-1][1] == "done"
    assert rest[-1][2]["status"] == "completed" and rest[-1][2]["commandId"] == cid
    whole = await session.get(f"{a.base}/api/voice/commands/{cid}/events", headers=auth())
    everything = await read_until(events_of(whole), lambda kind, _: kind == "done")
    assert everything == before + rest, "a reader from the start gets the same events"


async def test_a_second_client_joins_a_running_command(cluster, session) -> None:
    a, b, notes = cluster["a"], cluster["b"], cluster["notes"]
    resp, events, before = await start_gated(session, a.base, notes)
    cid = command_id(before)
    joined = await session.get(f"{b.base}/api/voice/commands/{cid}/events?lastEventId=1",
                               headers=auth())
    joiner = events_of(joined)
    replay = await read_until(joiner, lambda kind, data: (kind, data.get("type")) == EXECUTING)
    assert replay == before[1:], "the joiner first gets what it missed"
    status = await session.get(f"{b.base}/api/voice/commands/{cid}", headers=auth())
    assert await status.json() == {"commandId": cid, "status": "running", "done": None}
    notes.knobs.gate.set()
    first = await read_until(events, lambda kind, _: kind == "done")
    second = await read_until(joiner, lambda kind, _: kind == "done")
    assert first == second and first[-1][2]["status"] == "completed"
    resp.close()
    assert await settled(session, b.base, cid) == "completed"
    status = await session.get(f"{b.base}/api/voice/commands/{cid}", headers=auth())
    assert (await status.json())["done"] == first[-1][2]


async def test_cancel_from_the_other_instance_stops_the_tool(cluster, session) -> None:
    a, b, notes = cluster["a"], cluster["b"], cluster["notes"]
    cancelled = notes.stats.cancelled["wait_for_gate"]
    resp, events, before = await start_gated(session, a.base, notes)
    cid = command_id(before)
    stop = await session.post(f"{b.base}/api/voice/commands/{cid}/cancel", headers=auth())
    assert stop.status == 202
    rest = await read_until(events, lambda kind, _: kind == "done")
    assert rest[-1][2]["status"] == "cancelled" and rest[-1][2]["commandId"] == cid
    await notes.stats.wait_for(lambda s: s.cancelled["wait_for_gate"] > cancelled, timeout=10)
    assert await settled(session, b.base, cid) == "cancelled"
    resp.close()


async def test_a_command_nobody_reads_is_cancelled_after_the_grace(cluster, session) -> None:
    a, notes = cluster["a"], cluster["notes"]
    cancelled = notes.stats.cancelled["wait_for_gate"]
    resp, _, before = await start_gated(session, a.base, notes)
    resp.close()
    await notes.stats.wait_for(lambda s: s.cancelled["wait_for_gate"] > cancelled,
                               timeout=GRACE_S + 20)
    assert await settled(session, a.base, command_id(before)) == "cancelled"


async def test_bad_ids_other_users_and_expired_commands(cluster, session) -> None:
    a, b = cluster["a"], cluster["b"]
    resp = await session.post(f"{a.base}{STREAM}", json={"query": "hi"}, headers=auth())
    seen = await read_until(events_of(resp), lambda kind, _: kind == "done")
    cid = command_id(seen)
    for path in ("/api/voice/commands/bad!id/events", "/api/voice/commands/short",
                 "/api/voice/commands/" + "x" * 40):
        got = await session.get(f"{b.base}{path}", headers=auth())
        assert got.status == 400 and (await got.json())["error"]["code"] == "invalid_command_id"
    for value in ("abc", "-1", "1.5", "١٢"):
        got = await session.get(f"{b.base}/api/voice/commands/{cid}/events",
                                headers={**auth(), "Last-Event-ID": value})
        assert got.status == 400, value
    for base in (a.base, b.base):
        for method, path in (("GET", f"/api/voice/commands/{cid}"),
                             ("GET", f"/api/voice/commands/{cid}/events"),
                             ("POST", f"/api/voice/commands/{cid}/cancel"),
                             ("GET", "/api/voice/commands/" + "Z" * 22)):
            got = await session.request(method, f"{base}{path}", headers=auth("mallory"))
            assert got.status == 404 and cid not in await got.text()
    beyond = await session.get(f"{b.base}/api/voice/commands/{cid}/events?lastEventId=999",
                               headers=auth())
    replay = await read_until(events_of(beyond), lambda kind, _: kind == "done")
    assert [e[1] for e in replay] == ["done"], "after the end of a finished command: its done"
    client = aioredis.Redis.from_url(cluster["redis"].url)
    try:  # let its events expire (as VOICE_MCP_EVENTS_TTL_S would)
        await client.delete(f"voice-mcp:command:{{{cid}}}:meta",
                            f"voice-mcp:command:{{{cid}}}:events")
    finally:
        await client.aclose()
    gone = await session.get(f"{b.base}/api/voice/commands/{cid}/events", headers=auth())
    assert gone.status == 410 and (await gone.json())["error"]["code"] == "command_expired"
    other = await session.get(f"{b.base}/api/voice/commands/{cid}", headers=auth("mallory"))
    assert other.status == 404


async def test_a_dead_owner_gives_instance_lost_to_readers_elsewhere(cluster, session) -> None:
    b, notes = cluster["b"], cluster["notes"]
    victim = Instance(cluster["env"]).start()
    try:
        await wait_ready(session, victim.base)
        resp, _, before = await start_gated(session, victim.base, notes)
        cid = command_id(before)
        watch = await session.get(f"{b.base}/api/voice/commands/{cid}/events",
                                  headers={**auth(), "Last-Event-ID": str(before[-1][0])})
        watcher = events_of(watch)
        victim.kill()
        resp.close()
        async with asyncio.timeout(40):  # docs/resume.md says 15 s; slack for a loaded machine
            rest = await read_until(watcher, lambda kind, _: kind == "done")
    finally:
        victim.kill()
    assert [e[1] for e in rest] == ["error", "done"]
    assert rest[0][2]["code"] == "instance_lost" and rest[1][2]["status"] == "failed"
    assert rest[0][0] == before[-1][0] + 1 and rest[1][2]["commandId"] == cid


async def test_ask_reconnects_by_itself_and_says_so(cluster, session) -> None:
    a, notes = cluster["a"], cluster["notes"]
    proxy = await CuttableProxy(a.port).start()
    out = io.StringIO()
    calls = notes.stats.tool_calls["wait_for_gate"]
    try:
        http = HttpClient(f"http://127.0.0.1:{proxy.port}", auth(), read_timeout_s=60)
        client = AskClient(http, Console(file=out, width=100), auto_approve=False)
        asking = asyncio.create_task(client.send("gate please", None, None))
        await notes.stats.wait_for(lambda s: s.tool_calls["wait_for_gate"] > calls,
                                   timeout=20)
        await proxy.wait_sent(b'"executing"')  # the client has been sent its command's id
        proxy.cut()
        notes.knobs.gate.set()
        assert await asking == 0
    finally:
        await proxy.stop()
    shown = out.getvalue()
    assert "Connection lost; reconnecting" in shown and "Reconnected" in shown
    assert "All finished." in shown and shown.count("All finished.") == 1


async def test_a_redis_restart_mid_command_ends_it_cleanly(cluster, session) -> None:
    a, b, notes, redis = cluster["a"], cluster["b"], cluster["notes"], cluster["redis"]
    resp, events, before = await start_gated(session, a.base, notes)
    redis.stop()
    redis.start()
    notes.knobs.gate.set()
    rest = await read_until(events, lambda kind, _: kind == "done")
    assert [e[1] for e in rest].count("done") == 1 and rest[-1][2]["status"] == "completed"
    assert [e[0] for e in before + rest] == list(range(1, len(before) + len(rest) + 1))
    resp.close()
    for base in (a.base, b.base):  # both instances work again once Redis is back
        await wait_ready(session, base)
        assert await command_completes(session, base)


async def command_completes(session: aiohttp.ClientSession, base: str) -> bool:
    """A command completes; a pooled connection that died with Redis may fail the first one,
    but only with the retryable `redis_unavailable` error: a 503 with Retry-After when it is
    met before the stream opens, else an `error` event (docs/resume.md, known limits)."""
    for _attempt in range(3):
        again = await session.post(f"{base}{STREAM}", json={"query": "hi"}, headers=auth())
        if again.status == 503:
            body = await again.json()
            assert body["error"]["code"] == "redis_unavailable", body
            assert again.headers["Retry-After"] == "5"
            continue
        after = await read_until(events_of(again), lambda kind, _: kind == "done")
        if after[-1][2]["status"] == "completed":
            return True
        errors = [data for _, kind, data in after if kind == "error"]
        assert [e["code"] for e in errors] == ["redis_unavailable"] and errors[0]["retryable"]
    return False


async def test_streams_past_the_cap_on_an_instance_get_429(cluster, session) -> None:
    """Readers on another instance share one Redis reader, and are capped (docs/resume.md)."""
    from voice_mcp.services.commands.feeds import PER_COMMAND

    a, b, notes = cluster["a"], cluster["b"], cluster["notes"]
    resp, _, before = await start_gated(session, a.base, notes)
    url = f"{b.base}/api/voice/commands/{command_id(before)}/events"
    streams = [await session.get(url, headers=auth()) for _ in range(PER_COMMAND)]
    assert {s.status for s in streams} == {200}
    refused = await session.get(url, headers=auth())
    assert refused.status == 429 and refused.headers["Retry-After"] == "5"
    assert (await refused.json())["error"]["code"] == "too_many_readers"
    notes.knobs.gate.set()
    for stream in streams:
        events = await read_until(events_of(stream), lambda kind, _: kind == "done")
        assert events[-1][2]["status"] == "completed"
        stream.close()
    resp.close()
