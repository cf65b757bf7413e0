"""Each transport end to end against real servers: list the tools, call one, see progress."""

from __future__ import annotations

import pytest

from tests.fixtures.mcp_servers import NOTES_TOOLS, TIME_TOOLS
from tests.mcp_servers.notes_server import ServerStats
from tests.services.mcp.conftest import MakeManager
from voice_mcp.services.catalog import ServiceConfig
from voice_mcp.services.mcp.models import ToolHints


@pytest.fixture(params=["stdio", "streamable-http", "sse"])
def notes_service(request: pytest.FixtureRequest) -> tuple[ServiceConfig, ServerStats | None]:
    """The notes server over each transport, with its counters when it runs in this process."""
    if request.param == "stdio":
        return request.getfixturevalue("notes_stdio_service"), None
    fixture = "notes_http_server" if request.param == "streamable-http" else "notes_sse_server"
    server = request.getfixturevalue(fixture)
    return server.service("notes"), server.stats


async def test_lists_tools_with_their_hints(make_manager: MakeManager, notes_service):
    service, _ = notes_service
    manager = make_manager(service)

    found = await manager.discover("alice", ["notes"])

    assert found.unavailable == {}
    by_name = {t.name: t for t in found.tools}
    assert set(by_name) == NOTES_TOOLS
    assert all(t.service == "notes" for t in found.tools)
    assert by_name["list_notes"].hints.read_only is True
    assert by_name["delete_note"].hints.destructive is True
    assert by_name["send_email"].hints.open_world is True
    assert by_name["add_note"].hints == ToolHints(read_only=False, destructive=False,
                                                  idempotent=False, open_world=False)
    assert by_name["add_note"].input_schema["required"] == ["text"]
    assert by_name["hang"].description.startswith("Never returns")


async def test_calls_a_tool(make_manager: MakeManager, notes_service):
    service, stats = notes_service
    manager = make_manager(service)

    added = await manager.call_tool("alice", "notes", "add_note", {"text": "Water the plants"})
    listed = await manager.call_tool("alice", "notes", "list_notes", {})

    assert added.success and added.output == "Added note 3: Water the plants"
    assert listed.success
    assert listed.output == "1. Buy milk\n2. Call the plumber\n3. Water the plants"
    assert listed.structured == {"result": listed.output}
    assert listed.error is None
    assert (listed.service, listed.tool, listed.arguments) == ("notes", "list_notes", {})
    assert manager.initialize_count == 1  # one session, kept warm for both calls
    if stats is not None:
        assert stats.handshakes == 1
        assert stats.tool_calls == {"add_note": 1, "list_notes": 1}


async def test_forwards_progress_in_order_before_the_result(make_manager: MakeManager,
                                                           notes_service):
    service, _ = notes_service
    manager = make_manager(service)
    seen: list[tuple[float, float | None, str | None]] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        seen.append((progress, total, message))

    result = await manager.call_tool("alice", "notes", "slow_count", {"n": 4, "delay_ms": 1},
                                     progress=on_progress)

    assert result.success and result.output == "Counted to 4"
    assert seen == [(float(i), 4.0, f"counted {i} of 4") for i in range(1, 5)]


async def test_the_pypi_time_server(make_manager: MakeManager, time_service: ServiceConfig):
    manager = make_manager(time_service)

    found = await manager.discover("alice", ["time"])
    result = await manager.call_tool("alice", "time", "get_current_time", {"timezone": "UTC"})
    refused = await manager.call_tool("alice", "time", "get_current_time",
                                      {"timezone": "Mars/Olympus_Mons"})

    assert {t.name for t in found.tools} >= TIME_TOOLS
    assert all(t.hints.read_only for t in found.tools)
    assert result.success, result.error
    assert result.structured["timezone"] == "UTC"
    assert '"timezone": "UTC"' in result.output
    assert not refused.success
    assert "Mars/Olympus_Mons" in (refused.error or "")


async def test_the_shared_catalog_fixture(mcp_manager, mcp_catalog):
    found = await mcp_manager.discover("alice", list(mcp_catalog.services))

    assert found.unavailable == {"dead_http": "connection refused",
                                 "dead_stdio": "the server closed the connection"}
    services = {t.service for t in found.tools}
    assert services == {"notes", "notes_http", "notes_sse", "notes_bearer", "time"}
