"""The command pipeline end to end: real app, real openai SDK against the scripted server,
real MCP servers (mcp-server-time from PyPI, and our notes server over stdio and HTTP)."""

from __future__ import annotations

import asyncio
import json

import pytest

from tests.fakes.openai_server import call, text, tool_turn
from tests.sse import parse, read_stream
from voice_mcp.services.commands import is_command_id

TOKYO = call("time__get_current_time", {"timezone": "Asia/Tokyo"})
STREAM = "/api/voice/llm/stream"


@pytest.fixture(params=[True, False], ids=["llm-streamed", "llm-whole"])
def llm_stream(request) -> bool:
    return bool(request.param)


async def test_single_tool_command_streams_every_stage(voice_client, time_service, openai_server,
                                                       auth_for, llm_stream) -> None:
    client = await voice_client(time_service, llm_stream=llm_stream)
    openai_server.script(TOKYO, text("It is 9 pm in Tokyo."))
    resp = await client.post(STREAM, json={"query": "what time is it in Tokyo"},
                             headers=auth_for())
    assert resp.headers["Content-Type"] == "text/event-stream; charset=utf-8"
    assert resp.headers["Cache-Control"] == "no-cache, no-transform"
    assert resp.headers["X-Accel-Buffering"] == "no"
    assert len(resp.headers["X-Request-Id"]) == 16
    stream = await read_stream(resp)
    assert stream.types == ["analyzing", "discovering", "selecting", "executing", "executed",
                            "summarizing"]
    assert [int(i) for i, _, _ in stream.events] == list(range(1, len(stream.events) + 1))
    discovering = stream.progress[1]
    assert discovering["services"] == 1 and discovering["tools"] == 2
    assert stream.progress[2]["tools"] == ["time.get_current_time"]
    assert stream.progress[3] | {"timestamp": 0, "message": ""} == {
        "type": "executing", "service": "time", "tool": "get_current_time", "index": 1,
        "total": 1, "timestamp": 0, "message": ""}
    assert type(stream.progress[3]["total"]) is int  # a count, not 1.0
    assert all(isinstance(p["timestamp"], int) and p["message"] for p in stream.progress)
    done = stream.done
    assert done["success"] is True and done["status"] == "completed"
    assert done["response"] == "It is 9 pm in Tokyo."
    assert done["query"] == "what time is it in Tokyo" and done["conversationId"]
    [result] = done["results"]
    assert result["service"] == "time" and result["tool"] == "get_current_time"
    assert result["arguments"] == {"timezone": "Asia/Tokyo"} and result["success"] is True
    assert "Asia/Tokyo" in result["output"] and result["error"] is None
    assert done["confirmation"] is None and done["clarification"] is None
    assert set(done["timings"]) >= {"analyze", "discover", "plan", "execute", "summarize"}
    assert done["totalExecutionTime"] >= 0
    # Exactly two LLM requests; the second carries the real tool result back.
    assert len(openai_server.requests) == 2
    first = openai_server.requests[0]
    assert "time__get_current_time" in first.tool_names and "ask_user" in first.tool_names
    assert first.stream  # a streamed command always streams its rounds: the answer is deltas
    [tool_msg] = openai_server.requests[1].tool_results
    assert "Asia/Tokyo" in tool_msg["content"]


async def test_exact_bytes_of_the_first_event(voice_client, openai_server, auth_for) -> None:
    client = await voice_client()
    openai_server.script(text("Hello."))
    resp = await client.post(STREAM, json={"query": "hi"}, headers=auth_for())
    raw = await resp.text()
    first = raw.split("\r\n\r\n")[0]
    lines = first.split("\r\n")
    assert lines[:2] == ["id: 1", "event: progress"]
    data = json.loads(lines[2].removeprefix("data: "))
    assert lines[2] == "data: " + json.dumps(data, separators=(",", ":"))
    assert data["type"] == "analyzing" and is_command_id(data["commandId"])
    assert lines[3:] == ["retry: 1000"], "the first write suggests a reconnection delay"
    assert "retry:" not in raw.split("\r\n\r\n", 1)[1], "only the first write carries it"


async def test_json_endpoint_returns_the_done_payload(voice_client, time_service, openai_server,
                                                      auth_for) -> None:
    client = await voice_client(time_service)
    openai_server.script(TOKYO, text("It is 9 pm in Tokyo."))
    resp = await client.post("/api/voice/llm", json={"query": "time in Tokyo?",
                                                     "conversationId": "conv-1"},
                             headers=auth_for())
    assert resp.status == 200
    done = await resp.json()
    assert done["status"] == "completed" and done["conversationId"] == "conv-1"
    assert done["results"][0]["success"] is True


async def test_first_event_leaves_before_the_llm_answers(voice_client, openai_server,
                                                         auth_for) -> None:
    client = await voice_client(request_timeout_s=5)
    openai_server.hang()
    resp = await client.post(STREAM, json={"query": "hi"}, headers=auth_for())
    async with asyncio.timeout(5):
        first = await resp.content.readuntil(b"\r\n\r\n")
        await openai_server.wait_for_hanging()
    assert b'"type":"analyzing"' in first
    resp.close()


async def test_heartbeat_comments_while_waiting(voice_client, openai_server, auth_for) -> None:
    client = await voice_client(heartbeat_s=0.05, request_timeout_s=0.6)
    openai_server.hang()
    stream = await read_stream(await client.post(STREAM, json={"query": "hi"},
                                                 headers=auth_for()))
    assert "ping" in stream.comments
    assert stream.done["status"] == "timeout"


async def test_timeout_ends_with_error_then_done(voice_client, openai_server, auth_for) -> None:
    client = await voice_client(request_timeout_s=0.5)
    openai_server.hang()
    stream = await read_stream(await client.post(STREAM, json={"query": "hi"},
                                                 headers=auth_for()))
    assert stream.errors == [{"code": "timeout", "retryable": True,
                              "message": "The command took too long and was stopped."}]
    assert [e for _, e, _ in stream.events][-2:] == ["error", "done"]
    assert stream.done["status"] == "timeout" and stream.done["success"] is False


async def test_client_disconnect_cancels_the_llm_request(voice_client, openai_server,
                                                         auth_for) -> None:
    client = await voice_client(resume_grace_s=0)  # 0: cancel on disconnect (section 11)
    openai_server.hang()
    resp = await client.post(STREAM, json={"query": "hi"}, headers=auth_for())
    async with asyncio.timeout(5):
        await resp.content.readuntil(b"\r\n\r\n")
        await openai_server.wait_for_hanging()
    resp.close()
    async with asyncio.timeout(5):
        await openai_server.disconnected.wait()
    assert openai_server.disconnects == ["chat"]


async def test_client_disconnect_cancels_a_tool_call(voice_client, notes_http_server,
                                                     openai_server, auth_for) -> None:
    client = await voice_client(notes_http_server.service("notes"), resume_grace_s=0)
    openai_server.script(call("notes__hang"))
    resp = await client.post(STREAM, json={"query": "wait forever"}, headers=auth_for())
    async with asyncio.timeout(10):
        while b'"type":"executing"' not in await resp.content.readuntil(b"\r\n\r\n"):
            pass
        await notes_http_server.stats.wait_for(lambda s: s.tool_calls["hang"] == 1)
    resp.close()
    await notes_http_server.stats.wait_for(lambda s: s.cancelled["hang"] == 1, timeout=10)
    assert len(openai_server.requests) == 1, "nothing more was asked of the LLM"


@pytest.mark.parametrize(("status", "code", "retryable"), [
    (500, "llm_unavailable", True), (429, "llm_unavailable", True),
    (401, "llm_auth_failed", False)])
async def test_llm_errors_end_failed(voice_client, openai_server, auth_for, status, code,
                                     retryable) -> None:
    client = await voice_client()
    openai_server.fail(status, times=None)
    stream = await read_stream(await client.post(STREAM, json={"query": "hi"},
                                                 headers=auth_for()))
    [error] = stream.errors
    assert error["code"] == code and error["retryable"] is retryable
    assert "sk-" not in error["message"] and "Traceback" not in stream.raw
    assert stream.done["status"] == "failed" and stream.done["error"]["code"] == code


async def test_llm_retried_by_the_sdk_then_succeeds(voice_client, openai_server,
                                                    auth_for) -> None:
    client = await voice_client(llm_max_retries=2)
    openai_server.fail(500, times=1).script(text("Hello."))
    resp = await client.post("/api/voice/llm", json={"query": "hi"}, headers=auth_for())
    assert (await resp.json())["status"] == "completed"
    assert len(openai_server.requests) == 2


async def test_a_dead_service_leaves_the_rest_working(voice_client, time_service,
                                                      dead_http_service, dead_stdio_service,
                                                      openai_server, auth_for) -> None:
    client = await voice_client(time_service, dead_http_service, dead_stdio_service,
                                discovery_timeout_s=20)
    openai_server.script(TOKYO, text("It is 9 pm in Tokyo."))
    stream = await read_stream(await client.post(STREAM, json={"query": "time in Tokyo"},
                                                 headers=auth_for()))
    discovering = stream.progress[1]
    assert set(discovering["unavailable"]) == {"dead_http", "dead_stdio"}
    assert discovering["services"] == 1
    done = stream.done
    assert done["status"] == "completed" and set(done["unavailable"]) == {"dead_http",
                                                                        "dead_stdio"}
    assert "time__get_current_time" in openai_server.requests[0].tool_names


async def test_independent_calls_run_concurrently_with_progress(
        voice_client, notes_stdio_service, openai_server, auth_for) -> None:
    client = await voice_client(notes_stdio_service)
    openai_server.script(
        tool_turn(("notes__slow_count", {"n": 3, "delay_ms": 30}),
                  ("notes__slow_count", {"n": 2, "delay_ms": 30})),
        text("Counted."))
    stream = await read_stream(await client.post(STREAM, json={"query": "count twice"},
                                                 headers=auth_for()))
    types = stream.types
    first_done = types.index("executed")
    assert types[:first_done].count("executing") == 2, types
    progress = [p for p in stream.progress if p["type"] == "tool_progress"]
    assert len(progress) == 5 and {p["tool"] for p in progress} == {"slow_count"}
    assert all("progress" in p and p["total"] in (2, 3) for p in progress)
    assert [r["success"] for r in stream.done["results"]] == [True, True]
    assert len(openai_server.requests[1].tool_results) == 2


async def test_streamable_http_service_and_warm_path(voice_client, notes_http_server,
                                                     openai_server, auth_for) -> None:
    client = await voice_client(notes_http_server.service("notes"))
    for _ in range(3):
        openai_server.script(call("notes__list_notes"), text("You have two notes."))
        resp = await client.post("/api/voice/llm", json={"query": "list my notes"},
                                 headers=auth_for())
        done = await resp.json()
        assert done["status"] == "completed" and "Buy milk" in done["results"][0]["output"]
    stats = notes_http_server.stats
    assert stats.handshakes == 1 and stats.methods["tools/list"] == 1
    assert stats.tool_calls["list_notes"] == 3


async def test_bad_arguments_go_back_to_the_llm(voice_client, notes_http_server, openai_server,
                                                auth_for) -> None:
    client = await voice_client(notes_http_server.service("notes"))
    openai_server.script(call("notes__delete_note", {"note_id": "one"}),
                         call("notes__no_such_tool"),
                         call("notes__add_note", "{not json"),
                         text("Sorry, I could not do that."))
    done = await (await client.post("/api/voice/llm", json={"query": "delete note one"},
                                    headers=auth_for())).json()
    assert done["status"] == "completed" and done["results"] == []
    errors = [r.tool_results[0]["content"] for r in openai_server.requests[1:]]
    assert errors[0].startswith("Error: ") and "note_id" in errors[0]
    assert "unknown tool" in errors[1] and "JSON" in errors[2]
    assert notes_http_server.stats.tool_calls["delete_note"] == 0


async def test_a_failing_tool_is_reported_to_the_llm(voice_client, notes_stdio_service,
                                                     openai_server, auth_for) -> None:
    client = await voice_client(notes_stdio_service)
    openai_server.script(call("notes__fail_always"), text("The notes service is down."))
    done = await (await client.post("/api/voice/llm", json={"query": "break"},
                                    headers=auth_for())).json()
    [result] = done["results"]
    assert result["success"] is False and "down" in result["error"]
    assert done["status"] == "completed"
    assert "down" in openai_server.requests[1].tool_results[0]["content"]


async def test_clarification_ends_the_command(voice_client, notes_stdio_service, openai_server,
                                              auth_for) -> None:
    client = await voice_client(notes_stdio_service)
    openai_server.script(call("ask_user", {"question": "Which note should I delete?"}))
    stream = await read_stream(await client.post(STREAM, json={"query": "delete a note"},
                                                 headers=auth_for()))
    done = stream.done
    assert done["status"] == "clarification_needed"
    assert done["clarification"] == {"question": "Which note should I delete?"}
    assert done["response"] == "Which note should I delete?"
    assert "executing" not in stream.types


async def test_history_feeds_the_next_turn(voice_client, openai_server, auth_for) -> None:
    client = await voice_client()
    openai_server.script(text("Your name is Ada."), text("You told me: Ada."))
    for query in ("my name is Ada", "what is my name"):
        resp = await client.post("/api/voice/llm", json={"query": query, "conversationId": "c9"},
                                 headers=auth_for())
        assert (await resp.json())["status"] == "completed"
    second = openai_server.requests[1].messages
    contents = [m.get("content") for m in second]
    assert "my name is Ada" in contents and "Your name is Ada." in contents
    history = await (await client.get("/api/voice/history?conversationId=c9",
                                      headers=auth_for())).json()
    assert [t["query"] for t in history["turns"]] == ["my name is Ada", "what is my name"]
    other = await (await client.get("/api/voice/history?conversationId=c9",
                                    headers=auth_for("mallory"))).json()
    assert other["turns"] == []
    recent = await (await client.get("/api/voice/history", headers=auth_for())).json()
    assert recent["conversations"][0]["conversationId"] == "c9"


async def test_history_keeps_the_last_ten_turns(voice_client, openai_server, auth_for) -> None:
    client = await voice_client()
    for i in range(12):
        openai_server.script(text(f"answer {i}"))
        await client.post("/api/voice/llm", json={"query": f"q{i}", "conversationId": "c"},
                          headers=auth_for())
    turns = (await (await client.get("/api/voice/history?conversationId=c",
                                     headers=auth_for())).json())["turns"]
    assert [t["query"] for t in turns] == [f"q{i}" for i in range(2, 12)]


@pytest.mark.parametrize(("body", "code"), [
    ("not json", "invalid_json"), ("[1, 2]", "invalid_body"), ('{"query": ""}', "invalid_body"),
    ('{"query": "   "}', "invalid_body"), ('{"query": 42}', "invalid_body"), ("{}", "invalid_body"),
    ('{"query": "hi", "conversationId": "no spaces allowed"}', "invalid_body"),
    ('{"query": "' + "x" * 501 + '"}', "query_too_long")])
async def test_bad_queries_are_400(voice_client, openai_server, auth_for, body, code) -> None:
    client = await voice_client()
    for path in ("/api/voice/llm", STREAM):
        resp = await client.post(path, data=body, headers={**auth_for(),
                                                           "Content-Type": "application/json"})
        assert resp.status == 400
        assert (await resp.json())["error"]["code"] == code
    assert openai_server.requests == []


async def test_llm_not_configured_is_503(aiohttp_client, make_settings, auth_for) -> None:
    from voice_mcp.services.catalog import Catalog
    from voice_mcp.web.app import create_app

    client = await aiohttp_client(create_app(make_settings(), catalog=Catalog()))
    resp = await client.post(STREAM, json={"query": "hi"}, headers=auth_for())
    body = await resp.json()
    assert resp.status == 503 and body["error"]["code"] == "llm_not_configured"
    assert "OPENAI_API_KEY" in body["error"]["message"]


async def test_capabilities_and_examples(voice_client, notes_stdio_service, time_service,
                                         auth_for) -> None:
    client = await voice_client(notes_stdio_service, time_service)
    caps = await (await client.get("/api/voice/capabilities", headers=auth_for())).json()
    by_id = {s["id"]: s for s in caps["services"]}
    assert by_id["time"]["connected"] is True and by_id["time"]["title"] == "Time"
    risks = {t["name"]: t["risk"] for t in by_id["notes"]["tools"]}
    assert risks["list_notes"] == "low" and risks["add_note"] == "medium"
    assert risks["delete_note"] == "high" and risks["send_email"] == "high"
    assert all(set(t) >= {"name", "description", "risk"} for t in by_id["time"]["tools"])
    examples = (await (await client.get("/api/voice/examples", headers=auth_for())).json())
    assert examples["examples"] and all(isinstance(e, str) for e in examples["examples"])


async def test_round_limit_ends_failed(voice_client, notes_stdio_service, openai_server,
                                       auth_for) -> None:
    client = await voice_client(notes_stdio_service, llm_max_rounds=2)
    openai_server.responder = call("notes__list_notes")
    done = await (await client.post("/api/voice/llm", json={"query": "loop"},
                                    headers=auth_for())).json()
    assert done["status"] == "failed" and len(openai_server.requests) == 2


def test_parse_helper_keeps_comments() -> None:
    stream = parse(": ping\r\n\r\nid: 1\r\nevent: done\r\ndata: {\"a\": 1}\r\n\r\n")
    assert stream.comments == ["ping"] and stream.done == {"a": 1}


async def test_commands_past_the_rate_limit_get_429(voice_client, openai_server,
                                                    auth_for) -> None:
    client = await voice_client(rate_limit_per_minute=2)
    openai_server.responder = text("ok")
    statuses = []
    for _ in range(3):
        resp = await client.post("/api/voice/llm", json={"query": "hi"}, headers=auth_for())
        statuses.append(resp.status)
    assert statuses == [200, 200, 429]
    assert 1 <= int(resp.headers["Retry-After"]) <= 61
    assert (await resp.json())["error"]["code"] == "rate_limited"
    other = await client.post("/api/voice/llm", json={"query": "hi"}, headers=auth_for("bob"))
    assert other.status == 200


async def test_json_answer_carries_the_command_id_and_can_be_polled(voice_client, openai_server,
                                                                    auth_for) -> None:
    client = await voice_client()
    openai_server.script(text("Hello."))
    done = await (await client.post("/api/voice/llm", json={"query": "hi"},
                                    headers=auth_for())).json()
    assert is_command_id(done["commandId"]) and done["status"] == "completed"
    polled = await client.get(f"/api/voice/commands/{done['commandId']}", headers=auth_for())
    assert await polled.json() == {"commandId": done["commandId"], "status": "completed",
                                   "done": done}
    # A stream can be joined after the command ended: everything, then exactly one done.
    replay = await read_stream(await client.get(
        f"/api/voice/commands/{done['commandId']}/events", headers=auth_for()))
    assert replay.done == done and replay.events[0][0] == "1"
