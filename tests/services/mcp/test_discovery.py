"""Discovery: concurrent, bounded per service, cached in memory and in Redis, invalidated."""

from __future__ import annotations

import asyncio
import threading

import anyio
import pytest
import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from tests.fixtures.mcp_servers import NOTES_TOOLS, make_catalog
from tests.mcp_servers.runner import RunningServer
from tests.services.mcp.conftest import MakeManager, cached_tools
from voice_mcp.services.catalog import ServiceConfig
from voice_mcp.services.mcp.manager import McpManager
from voice_mcp.services.store import free_port


async def test_a_dead_and_a_slow_service_do_not_hold_back_the_others(
        make_manager: MakeManager, notes_http_server: RunningServer,
        dead_http_service: ServiceConfig, dead_stdio_service: ServiceConfig):
    slow = RunningServer("streamable-http").start()
    slow.knobs.list_delay_s = 60  # answers the handshake, never the tools/list in time
    try:
        manager = make_manager(notes_http_server.service("notes"), slow.service("slow"),
                               dead_http_service, dead_stdio_service, discovery_timeout_s=2)

        found = await manager.discover("alice", ["notes", "slow", "dead_http", "dead_stdio",
                                                 "missing"])
    finally:
        slow.stop()

    assert {t.name for t in found.tools} == NOTES_TOOLS
    assert found.unavailable == {
        "slow": "timed out after 2s",
        "dead_http": "connection refused",
        "dead_stdio": "the server closed the connection",
        "missing": "unknown service",
    }
    assert found.service_count == 1


async def test_services_are_listed_concurrently(make_manager: MakeManager,
                                                notes_http_server: RunningServer):
    # Each server holds its tools/list until the other one has received its own: listing
    # one service after the other could never finish.
    both_asked = threading.Barrier(2, timeout=5)
    other = RunningServer("streamable-http").start()
    try:
        for server in (notes_http_server, other):
            server.knobs.list_hook = lambda: anyio.to_thread.run_sync(both_asked.wait)
        manager = make_manager(notes_http_server.service("one"), other.service("two"))

        found = await manager.discover("alice", ["one", "two"])
    finally:
        other.stop()

    assert found.unavailable == {}
    assert {t.service for t in found.tools} == {"one", "two"}


async def test_the_warm_path_sends_nothing(make_manager: MakeManager,
                                           notes_http_server: RunningServer):
    manager = make_manager(notes_http_server.service("notes"))
    first = await manager.discover("alice", ["notes"])

    second = await manager.discover("bob", ["notes"])  # a shared service: one list for everyone

    assert second.tools == first.tools
    stats = notes_http_server.stats
    assert (stats.handshakes, stats.methods["tools/list"]) == (1, 1)
    assert (manager.initialize_count, manager.list_tools_count) == (1, 1)


async def test_a_second_manager_reads_the_list_from_redis(
        make_manager: MakeManager, notes_http_server: RunningServer,
        redis_client: aioredis.Redis):
    service = notes_http_server.service("notes")
    first = await make_manager(service, cache_ttl_s=120).discover("alice", ["notes"])
    other = make_manager(service, cache_ttl_s=120)  # another process, the same Redis

    second = await other.discover("alice", ["notes"])

    assert second.tools == first.tools
    assert notes_http_server.stats.methods["tools/list"] == 1
    assert notes_http_server.stats.handshakes == 1
    assert (other.initialize_count, other.list_tools_count) == (0, 0)
    stored = cached_tools(await redis_client.get("vm:mcp-tools:notes"))
    assert {t["name"] for t in stored} == NOTES_TOOLS
    assert 0 < await redis_client.ttl("vm:mcp-tools:notes") <= 120


@pytest.mark.parametrize("protocol_mode", ["auto", "legacy"])
async def test_a_list_changed_notice_drops_the_cached_list(
        make_manager: MakeManager, notes_http_server: RunningServer,
        redis_client: aioredis.Redis, protocol_mode: str):
    changed = asyncio.Event()
    manager = make_manager(notes_http_server.service("notes"), protocol_mode=protocol_mode,
                           on_tools_changed=lambda service, user: changed.set())
    await manager.discover("alice", ["notes"])

    added = await manager.call_tool("alice", "notes", "add_tool", {"name": "water_plants"})
    async with asyncio.timeout(5):
        await changed.wait()
    found = await manager.discover("alice", ["notes"])

    assert added.success
    assert {t.name for t in found.tools} == NOTES_TOOLS | {"water_plants"}
    assert notes_http_server.stats.methods["tools/list"] == 2
    assert manager.initialize_count == 1  # the session stayed; only the list was refreshed
    stored = cached_tools(await redis_client.get("vm:mcp-tools:notes"))
    assert stored[-1]["name"] == "water_plants"


async def test_a_list_changed_notice_over_stdio(make_manager: MakeManager,
                                                notes_stdio_service: ServiceConfig):
    changed = asyncio.Event()
    manager = make_manager(notes_stdio_service,
                           on_tools_changed=lambda service, user: changed.set())
    await manager.discover("alice", ["notes"])

    await manager.call_tool("alice", "notes", "add_tool", {"name": "water_plants"})
    async with asyncio.timeout(5):
        await changed.wait()
    result = await manager.call_tool("alice", "notes", "water_plants", {})

    assert result.success and result.output == "water_plants ran"
    assert manager.list_tools_count == 2


async def test_a_tool_added_behind_our_back_is_found_at_call_time(
        make_manager: MakeManager, notes_http_server: RunningServer):
    service = notes_http_server.service("notes")
    manager = make_manager(service)
    await manager.discover("alice", ["notes"])
    # Another manager adds a tool; this one holds a session but hears nothing of it in time.
    await make_manager(service).call_tool("bob", "notes", "add_tool", {"name": "prune"})

    result = await manager.call_tool("alice", "notes", "prune", {})

    assert result.success and result.output == "prune ran"


async def test_an_unknown_tool_is_refused_without_a_call(make_manager: MakeManager,
                                                         notes_http_server: RunningServer):
    manager = make_manager(notes_http_server.service("notes"))

    result = await manager.call_tool("alice", "notes", "launch_rocket", {})

    assert not result.success and result.error == "unknown tool 'launch_rocket'"
    assert notes_http_server.stats.methods["tools/call"] == 0


async def test_without_redis_tools_still_come_from_the_server(notes_http_server: RunningServer):
    broken = aioredis.Redis(port=free_port(), retry=Retry(NoBackoff(), 0))
    manager = McpManager(make_catalog(notes_http_server.service("notes")), broken)
    try:
        found = await manager.discover("alice", ["notes"])
        again = await manager.discover("alice", ["notes"])
        result = await manager.call_tool("alice", "notes", "list_notes", {})
    finally:
        await manager.close()
        await broken.aclose()

    assert found.unavailable == {} and again.tools == found.tools
    assert result.success
    assert notes_http_server.stats.methods["tools/list"] == 1  # memory kept it meanwhile
