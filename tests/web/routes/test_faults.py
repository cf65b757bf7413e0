"""Faults survived (docs/operations.md, "Faults"): Redis restarted mid-command, an MCP stdio
server that dies mid-call, an MCP HTTP server that hangs, an LLM that answers garbage.

Unknown tool names and arguments that are not JSON are pinned in
tests/web/routes/test_voice_pipeline.py::test_bad_arguments_go_back_to_the_llm; an empty choices
list in tests/services/llm/test_parse.py; a dead stdio child between calls in
tests/services/mcp/test_resilience.py.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.fakes.openai_server import call, text
from tests.fixtures.mcp_servers import notes_stdio
from tests.redis_server import PersistentRedis
from tests.sse import parse, read_stream

STREAM = "/api/voice/llm/stream"
CONFIRM = "/api/voice/confirm"

GARBAGE = {
    "empty-choices": (json.dumps({"id": "x", "object": "chat.completion", "created": 1,
                                  "model": "m", "choices": []}).encode(), "application/json"),
    "not-json": (b"<html><body>502 Bad Gateway</body></html>", "text/html"),
    "broken-json": (b'{"id": "x", "choices": [{"message": ', "application/json"),
    "wrong-shape": (b'{"choices": "all of them"}', "application/json"),
}


@pytest.mark.parametrize("llm_stream", [False, True], ids=["whole", "streamed"])
@pytest.mark.parametrize("kind", list(GARBAGE))
async def test_an_llm_answering_garbage_ends_with_a_clear_error(voice_client, openai_server,
                                                                auth_for, kind: str,
                                                                llm_stream: bool,
                                                                caplog) -> None:
    client = await voice_client(llm_stream=llm_stream)
    body, content_type = GARBAGE[kind]
    openai_server.garbage(body, content_type=content_type)
    resp = await client.post(STREAM, json={"query": "hello"}, headers=auth_for())
    stream = await read_stream(resp)
    assert stream.done["status"] == "failed"
    assert stream.errors == [{"code": "llm_unavailable", "retryable": False,
                              "message": "The LLM server sent an unreadable answer."}]
    assert "Traceback" not in stream.raw
    assert not any(r.exc_info for r in caplog.records), "no traceback in the log either"
    # The next command, with a sane answer, works.
    openai_server.script(text("Hi."))
    again = await read_stream(await client.post(STREAM, json={"query": "hello"},
                                                headers=auth_for()))
    assert again.done["status"] == "completed" and again.done["response"] == "Hi."


async def test_a_stdio_server_dying_mid_call_fails_that_call_only(voice_client, openai_server,
                                                                  auth_for) -> None:
    # Medium risk (below the confirmation threshold): the call runs, and is not repeated.
    client = await voice_client(notes_stdio(risk={"crash": "medium"}))
    openai_server.script(call("notes__crash"), text("The notes service fell over."))
    done = await (await client.post("/api/voice/llm", json={"query": "crash it"},
                                    headers=auth_for())).json()
    [result] = done["results"]
    assert result["success"] is False and result["error"], result
    assert "Traceback" not in result["error"]
    assert done["status"] == "completed" and done["response"] == "The notes service fell over."
    # The LLM saw a tool error, not a hang; the next command gets a fresh child.
    assert openai_server.requests[1].tool_results[0]["content"].startswith("Error")
    openai_server.script(call("notes__list_notes"), text("Two notes."))
    done = await (await client.post("/api/voice/llm", json={"query": "list"},
                                    headers=auth_for())).json()
    [result] = done["results"]
    assert result["success"] is True and "Buy milk" in result["output"]


async def test_an_http_server_that_hangs_times_out_per_call(voice_client, notes_http_server,
                                                            openai_server, auth_for) -> None:
    client = await voice_client(notes_http_server.service("notes"), tool_timeout_s=0.5)
    openai_server.script(call("notes__hang"), text("The notes service is not answering."))
    done = await (await client.post("/api/voice/llm", json={"query": "wait"},
                                    headers=auth_for())).json()
    [result] = done["results"]
    assert result["success"] is False and "time" in result["error"].lower(), result
    assert done["status"] == "completed"
    await notes_http_server.stats.wait_for(lambda s: s.cancelled["hang"] == 1, timeout=30)


@pytest.fixture
async def persistent_redis(tmp_path: Path) -> AsyncIterator[PersistentRedis]:
    server = PersistentRedis(tmp_path)
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


async def _hold_for_delete(gate: asyncio.Event, reached: asyncio.Event):  # type: ignore[no-untyped-def]
    reached.set()
    await gate.wait()
    return call("notes__delete_note", {"note_id": 2})


async def test_redis_restarted_mid_command(voice_client, notes_stdio_service, openai_server,
                                           auth_for, persistent_redis: PersistentRedis) -> None:
    """A command that needs Redis while it is down ends with one error and one done; the
    server reconnects by itself; a confirmation stored before the restart still works."""
    client = await voice_client(notes_stdio_service, redis_url=persistent_redis.url)
    openai_server.script(call("notes__delete_note", {"note_id": 1}))
    held = await (await client.post("/api/voice/llm", json={"query": "delete note 1"},
                                    headers=auth_for())).json()
    assert held["status"] == "confirmation_required", held
    confirmation_id = held["confirmation"]["confirmationId"]

    gate, reached = asyncio.Event(), asyncio.Event()
    openai_server.script(lambda _body: _hold_for_delete(gate, reached))
    resp = await client.post(STREAM, json={"query": "delete note 2"}, headers=auth_for())
    async with asyncio.timeout(30):
        await reached.wait()
    await persistent_redis.stop()
    assert (await client.get("/readyz")).status == 503
    gate.set()
    stream = parse(await resp.text())
    assert stream.done["status"] == "failed"
    assert [e["code"] for e in stream.errors] == ["redis_unavailable"]
    assert stream.errors[0]["retryable"] is True

    await persistent_redis.start()  # same port, same append-only file
    async with asyncio.timeout(30):
        while (await client.get("/readyz")).status != 200:
            await asyncio.sleep(0.1)
    openai_server.script(text("Deleted note 1."))
    resp = await client.post(CONFIRM, json={"confirmationId": confirmation_id, "approved": True},
                             headers=auth_for())
    done = await resp.json()
    assert resp.status == 200, done
    assert done["status"] == "completed" and done["results"][0]["success"] is True, done
