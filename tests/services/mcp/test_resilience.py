"""Sessions that break are re-opened; closing leaves nothing running behind."""

from __future__ import annotations

import asyncio
import os
import signal

import pytest

from tests.fixtures.mcp_servers import REPO_ROOT, child_pids, notes_stdio
from tests.mcp_servers.runner import RunningServer
from tests.services.mcp.conftest import MakeManager
from voice_mcp.services.catalog import ServiceConfig

NOTES_CHILD = "tests.mcp_servers.notes_server"


@pytest.mark.parametrize("protocol_mode", ["auto", "legacy"])
async def test_the_session_is_reopened_after_the_server_restarts(
        make_manager: MakeManager, notes_http_server: RunningServer, protocol_mode: str):
    manager = make_manager(notes_http_server.service("notes"), protocol_mode=protocol_mode)
    first = await manager.call_tool("alice", "notes", "add_note", {"text": "Before"})

    notes_http_server.restart()  # a new process would forget sessions and notes alike
    after = await manager.call_tool("alice", "notes", "add_note", {"text": "After"})
    listed = await manager.call_tool("alice", "notes", "list_notes", {})

    assert first.success and after.success, after.error
    assert after.output == "Added note 3: After"
    assert listed.output.endswith("3. After")


async def test_calls_fail_cleanly_while_the_server_is_down_then_recover(
        make_manager: MakeManager, notes_http_server: RunningServer):
    manager = make_manager(notes_http_server.service("notes"), reconnect_backoff_s=0)
    assert (await manager.call_tool("alice", "notes", "list_notes", {})).success

    notes_http_server.stop()
    down = await manager.call_tool("alice", "notes", "list_notes", {})
    cached = await manager.discover("alice", ["notes"])  # the warm path does no I/O
    notes_http_server.start()
    up = await manager.call_tool("alice", "notes", "list_notes", {})
    relisted = await manager.discover("alice", ["notes"])

    assert not down.success
    assert down.error == "service unavailable: connection refused"
    assert cached.unavailable == {} and len(cached.tools) == len(relisted.tools)
    assert up.success
    # The re-opened session may face a different server: its list was fetched again.
    assert notes_http_server.stats.methods["tools/list"] == 2


async def test_a_dead_stdio_child_is_replaced(make_manager: MakeManager,
                                              notes_stdio_service: ServiceConfig):
    manager = make_manager(notes_stdio_service)
    assert (await manager.call_tool("alice", "notes", "list_notes", {})).success
    [session] = manager.sessions
    [pid] = child_pids(NOTES_CHILD)

    os.kill(pid, signal.SIGKILL)
    async with asyncio.timeout(5):
        await session.finished.wait()  # the session noticed: its stdout ended
    added = await manager.call_tool("alice", "notes", "add_note", {"text": "Again"})

    assert added.success and added.output == "Added note 3: Again"
    assert manager.initialize_count == 2
    assert child_pids(NOTES_CHILD) != [pid]


async def test_a_child_killed_under_a_read_is_retried_once(make_manager: MakeManager,
                                                           notes_stdio_service: ServiceConfig):
    manager = make_manager(notes_stdio_service)
    stats_before = await manager.call_tool("alice", "notes", "list_notes", {})
    [pid] = child_pids(NOTES_CHILD)
    os.kill(pid, signal.SIGKILL)

    # Whether or not the session has noticed yet, a read-only call is safe to repeat.
    result = await manager.call_tool("alice", "notes", "list_notes", {})

    assert stats_before.success and result.success
    assert manager.initialize_count == 2


async def test_close_stops_every_child(make_manager: MakeManager,
                                       notes_stdio_service: ServiceConfig,
                                       time_service: ServiceConfig):
    manager = make_manager(notes_stdio_service, time_service)
    found = await manager.discover("alice", ["notes", "time"])
    assert found.unavailable == {}
    assert len(child_pids(NOTES_CHILD)) == 1 and len(child_pids("mcp_server_time")) == 1

    await manager.close()

    assert child_pids(NOTES_CHILD) == [] and child_pids("mcp_server_time") == []
    after = await manager.call_tool("alice", "notes", "list_notes", {})
    assert after.error == "service unavailable: the MCP client is shut down"


async def test_close_ends_calls_in_flight(make_manager: MakeManager,
                                          notes_http_server: RunningServer):
    manager = make_manager(notes_http_server.service("notes"))
    hanging = asyncio.create_task(manager.call_tool("alice", "notes", "hang", {}))
    await notes_http_server.stats.wait_for(lambda s: s.tool_calls["hang"] == 1)

    await manager.close()

    result = await hanging
    assert not result.success and result.error == "service unavailable: the session was closed"
    await notes_http_server.stats.wait_for(lambda s: s.cancelled["hang"] == 1)


async def test_close_answers_a_discovery_in_progress(make_manager: MakeManager,
                                                     notes_http_server: RunningServer):
    notes_http_server.knobs.list_delay_s = 60
    manager = make_manager(notes_http_server.service("notes"))
    discovery = asyncio.create_task(manager.discover("alice", ["notes"]))
    await notes_http_server.stats.wait_for(lambda s: s.methods["tools/list"] == 1)

    await manager.close()

    found = await discovery
    assert found.unavailable == {"notes": "the MCP client is shut down"}


async def test_a_service_that_failed_to_connect_is_not_dialled_again_at_once(
        make_manager: MakeManager, notes_http_server: RunningServer):
    manager = make_manager(notes_http_server.service("notes"), reconnect_backoff_s=60)
    notes_http_server.stop()

    first = await manager.discover("alice", ["notes"])
    notes_http_server.start()
    second = await manager.discover("alice", ["notes"])

    assert first.unavailable == second.unavailable == {"notes": "connection refused"}
    assert manager.initialize_count == 1
    assert notes_http_server.stats.http_requests == 0


async def test_a_command_that_cannot_start_is_unavailable(make_manager: MakeManager):
    missing = ServiceConfig(id="ghost", title="Ghost", transport="stdio",
                            command=["/nonexistent/mcp-server"])
    manager = make_manager(missing)

    found = await manager.discover("alice", ["ghost"])

    assert found.unavailable == {"ghost": "the server command could not be started"}


async def test_a_server_that_never_answers_the_handshake_times_out(make_manager: MakeManager):
    # Reads every request, answers none, and leaves when its stdin closes.
    mute = ServiceConfig(id="mute", title="Mute", transport="stdio",
                         command=["python", "-c", "import sys; sys.stdin.read()  # mute"])
    manager = make_manager(mute, discovery_timeout_s=0.5)

    found = await manager.discover("alice", ["mute"])

    assert found.unavailable == {"mute": "timed out after 0.5s"}
    await manager.close()
    assert child_pids("# mute") == []


async def test_a_service_env_and_cwd_reach_the_child(make_manager: MakeManager,
                                                     monkeypatch: pytest.MonkeyPatch, tmp_path):
    monkeypatch.setenv("VOICE_MCP_JWT_SECRET", "must-not-leak")
    service = notes_stdio(env={"NOTES_GREETING": "hi"})
    script = ("import os, pathlib; pathlib.Path('seen.txt').write_text("
              "os.environ.get('NOTES_GREETING', '') + '|' + "
              "os.environ.get('VOICE_MCP_JWT_SECRET', '')); "
              "import runpy; runpy.run_module('tests.mcp_servers.notes_server', "
              "run_name='__main__')")
    probe = service.model_copy(update={
        "command": ["python", "-c", script], "cwd": str(tmp_path),
        "env": {"NOTES_GREETING": "hi", "PYTHONPATH": str(REPO_ROOT)}})
    manager = make_manager(probe)

    found = await manager.discover("alice", ["notes"])

    assert found.unavailable == {}
    assert (tmp_path / "seen.txt").read_text() == "hi|"
