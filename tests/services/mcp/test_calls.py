"""Tool calls: validated first, failures as data, bounded in time, cancellable."""

from __future__ import annotations

import asyncio

import pytest

from tests.mcp_servers.notes_server import FAILURE_MESSAGE, INJECTION
from tests.mcp_servers.runner import RunningServer
from tests.services.mcp.conftest import MakeManager


@pytest.fixture
def manager(make_manager: MakeManager, notes_http_server: RunningServer):
    return make_manager(notes_http_server.service("notes"))


@pytest.mark.parametrize(("arguments", "error"), [
    ({}, "invalid arguments: 'text' is a required property"),
    ({"text": 5}, "invalid arguments: 5 is not of type 'string' (at 'text')"),
    ([], "invalid arguments: expected a JSON object"),
])
async def test_bad_arguments_never_reach_the_server(manager, notes_http_server: RunningServer,
                                                    arguments, error):
    result = await manager.call_tool("alice", "notes", "add_note", arguments)

    assert not result.success
    assert result.error == error
    assert notes_http_server.stats.methods["tools/call"] == 0


async def test_a_tool_error_is_a_failed_result(manager):
    result = await manager.call_tool("alice", "notes", "fail_always", {})

    assert not result.success
    assert FAILURE_MESSAGE in (result.error or "")
    assert "Traceback" not in (result.error or "")
    assert result.output == ""
    assert result.duration_ms >= 0


async def test_a_tool_output_is_data_even_when_it_gives_orders(manager):
    result = await manager.call_tool("alice", "notes", "read_web_page",
                                     {"url": "https://garden.example/news"})

    assert result.success
    assert INJECTION in result.output  # passed on verbatim; acting on it is not this layer's job


async def test_a_call_that_takes_too_long_times_out_and_is_cancelled_on_the_server(
        manager, notes_http_server: RunningServer):
    await manager.discover("alice", ["notes"])  # warm, so the budget goes to the call itself

    result = await manager.call_tool("alice", "notes", "hang", {}, timeout_s=0.5)

    assert not result.success and result.error == "timed out after 0.5s"
    await notes_http_server.stats.wait_for(
        lambda s: s.tool_calls["hang"] == 1 and s.cancelled["hang"] == 1)


async def test_cancelling_the_caller_abandons_the_call_but_not_the_session(
        manager, notes_http_server: RunningServer):
    stats = notes_http_server.stats
    task = asyncio.create_task(manager.call_tool("alice", "notes", "hang", {}))
    await stats.wait_for(lambda s: s.tool_calls["hang"] == 1)

    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await stats.wait_for(lambda s: s.cancelled["hang"] == 1)
    after = await manager.call_tool("alice", "notes", "list_notes", {})

    assert after.success
    assert stats.handshakes == 1 and manager.initialize_count == 1


async def test_calls_on_one_shared_session_run_concurrently(manager,
                                                            notes_http_server: RunningServer):
    stats = notes_http_server.stats
    hanging = asyncio.create_task(manager.call_tool("alice", "notes", "hang", {}))
    await stats.wait_for(lambda s: s.tool_calls["hang"] == 1)

    others = await asyncio.gather(*(manager.call_tool(user, "notes", "list_notes", {})
                                    for user in ("alice", "bob", "carol")))

    assert all(r.success for r in others)
    assert not hanging.done()
    hanging.cancel()
    with pytest.raises(asyncio.CancelledError):
        await hanging
    assert stats.handshakes == 1


async def test_an_unknown_service_is_a_failed_result(manager):
    result = await manager.call_tool("alice", "calendar", "list_events", {})

    assert not result.success and result.error == "unknown service 'calendar'"


async def test_an_input_required_result_is_answered_and_the_call_retried(
        make_manager: MakeManager) -> None:
    """MCP 2026-07-28 multi-round-trip: the default answerer declines, the request state goes
    back byte for byte in a new request, and the tool's final result is the call's result."""
    from tests.mcp_servers.asking_server import build_asking_server

    server = RunningServer("streamable-http", build=build_asking_server).start()
    try:
        manager = make_manager(server.service("asking"))
        await manager.discover("alice", ["asking"])

        result = await manager.call_tool("alice", "asking", "book_table", {})

        assert result.success, result.error
        assert result.output == "answer: decline; state echoed"
        assert server.stats.tool_calls["book_table"] == 2
    finally:
        server.stop()
