"""Traces of commands (docs/operations.md, "Traces"): the real app, the fake LLM, a real
Streamable HTTP MCP server that keeps the `traceparent` it receives, the SDK's in-memory
exporter. One trace per command, its shape, attributes, privacy, error codes and links."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import SpanKind, StatusCode

from tests.fakes.openai_server import text, tool_turn
from tests.mcp_servers.runner import RunningServer
from tests.tracing_support import TraceKeeper, named, spans, trace_keeping_server, tree
from voice_mcp.services.keyspace import user_part
from voice_mcp.web import keys

__all__ = ["spans"]  # the fixture

QUERY = "remember that the spare key is under the blue flowerpot"
NOTE = "spare key under the blue flowerpot"
TIME_INTENTS = Path(__file__).resolve().parents[3] / "config" / "intents"


@pytest.fixture
def keeping() -> Iterator[tuple[RunningServer, TraceKeeper]]:
    keeper = TraceKeeper()
    server = trace_keeping_server(keeper).start()
    try:
        yield server, keeper
    finally:
        server.stop()


async def settled(client: Any, exporter: Any) -> tuple[ReadableSpan, ...]:
    """The finished spans once every command task (whose end ends its root span) is over."""
    running = client.app[keys.COMMANDS].local.values()
    await asyncio.wait_for(asyncio.gather(*(r.task for r in running if r.task)), 30)
    return tuple(exporter.get_finished_spans())


def ours(finished: tuple[ReadableSpan, ...]) -> list[ReadableSpan]:
    return [s for s in finished if s.instrumentation_scope
            and s.instrumentation_scope.name == "voice_mcp"]


def attrs(span: ReadableSpan) -> dict[str, Any]:
    return dict(span.attributes or {})


def every_value(finished: tuple[ReadableSpan, ...]) -> str:
    return " ".join(str(v) for s in finished for v in (s.attributes or {}).values())


async def _add_note(keeping, voice_client, openai_server, auth_for, **settings):
    server, _keeper = keeping
    client = await voice_client(server.service("notes"), **settings)
    openai_server.script(tool_turn(("notes__add_note", {"text": NOTE})), text("Noted."))
    resp = await client.post("/api/voice/llm", json={"query": QUERY}, headers=auth_for())
    done = await resp.json()
    assert done["status"] == "completed", done
    return client, done


async def test_an_llm_command_is_one_trace_of_stages_llm_requests_and_tool_calls(
        spans, keeping, voice_client, openai_server, auth_for) -> None:
    client, done = await _add_note(keeping, voice_client, openai_server, auth_for)
    finished = await settled(client, spans)
    mine = ours(finished)
    [root] = named(mine, "command")
    assert root.parent is None and {s.context.trace_id for s in finished} == {
        root.context.trace_id}
    assert attrs(root)["commandId"] == done["commandId"]
    assert attrs(root)["voice_mcp.user"] == user_part("alice")
    assert attrs(root)["voice_mcp.status"] == "completed"
    shape = tree(mine)
    stages = [n for n in shape["command"] if n != "analyze"]
    assert stages == ["discover", "plan", "execute", "summarize"]
    assert set(done["timings"]) >= {"analyze", *stages}
    assert shape["plan"] == ["chat gpt-5-mini"] and shape["summarize"] == ["chat gpt-5-mini"]
    assert shape["execute"] == ["tools/call add_note"]

    chat = named(mine, "chat gpt-5-mini")[0]
    assert chat.kind is SpanKind.CLIENT
    got = attrs(chat)
    assert got["gen_ai.operation.name"] == "chat" and got["gen_ai.provider.name"] == "openai"
    assert got["gen_ai.request.model"] == "gpt-5-mini"
    assert got["gen_ai.usage.input_tokens"] > 0 and got["gen_ai.usage.output_tokens"] > 0
    assert got["gen_ai.response.time_to_first_chunk"] >= 0
    assert got["server.port"] == openai_server.port

    [tool] = named(mine, "tools/call add_note")
    assert {k: attrs(tool)[k] for k in ("mcp.method.name", "gen_ai.tool.name",
                                            "voice_mcp.service", "voice_mcp.mcp.transport",
                                            "network.transport")} == {
        "mcp.method.name": "tools/call", "gen_ai.tool.name": "add_note",
        "voice_mcp.service": "notes", "voice_mcp.mcp.transport": "streamable-http",
        "network.transport": "tcp"}
    assert tool.status.status_code is StatusCode.UNSET


async def test_the_mcp_server_receives_a_traceparent_of_the_command_trace(
        spans, keeping, voice_client, openai_server, auth_for) -> None:
    client, _done = await _add_note(keeping, voice_client, openai_server, auth_for)
    finished = await settled(client, spans)
    [root] = named(ours(finished), "command")
    [tool] = named(ours(finished), "tools/call add_note")
    # The SDK's own client span sits inside ours and is the parent the server is told.
    [sent] = [s for s in finished if s.name == "MCP send tools/call add_note"]
    assert sent.parent is not None and sent.parent.span_id == tool.context.span_id
    traceparent = keeping[1].received["add_note"]
    assert traceparent is not None
    _version, trace_id, parent_id, _flags = traceparent.split("-")
    assert int(trace_id, 16) == root.context.trace_id
    assert int(parent_id, 16) == sent.context.span_id


async def test_no_query_or_tool_content_in_any_span_unless_asked(
        spans, keeping, voice_client, openai_server, auth_for) -> None:
    client, _done = await _add_note(keeping, voice_client, openai_server, auth_for)
    values = every_value(await settled(client, spans))
    assert "flowerpot" not in values and "alice" not in values
    assert "Bearer" not in values and "sk-" not in values


async def test_trace_content_true_records_query_arguments_and_output(
        spans, keeping, voice_client, openai_server, auth_for) -> None:
    client, _done = await _add_note(keeping, voice_client, openai_server, auth_for,
                                    trace_content=True)
    mine = ours(await settled(client, spans))
    [root] = named(mine, "command")
    assert attrs(root)["voice_mcp.query"] == QUERY
    [tool] = named(mine, "tools/call add_note")
    assert NOTE in attrs(tool)["gen_ai.tool.call.arguments"]
    assert "Added note" in attrs(tool)["gen_ai.tool.call.result"]
    assert "flowerpot" in attrs(named(mine, "chat gpt-5-mini")[0])["gen_ai.input.messages"]


async def test_a_failed_llm_request_marks_its_span_stage_and_root_with_the_error_code(
        spans, keeping, voice_client, openai_server, auth_for) -> None:
    client = await voice_client(keeping[0].service("notes"))
    openai_server.fail(500)
    done = await (await client.post("/api/voice/llm", json={"query": QUERY},
                                    headers=auth_for())).json()
    assert done["status"] == "failed"
    code = done["error"]["code"]
    mine = ours(await settled(client, spans))
    [root] = named(mine, "command")
    [chat] = named(mine, "chat gpt-5-mini")
    [plan] = named(mine, "plan")
    for span in (root, chat, plan):
        assert attrs(span)["error.type"] == code
        assert span.status.status_code is StatusCode.ERROR
    assert chat.parent is not None and chat.parent.span_id == plan.context.span_id


async def test_a_confirmed_command_links_to_the_trace_that_held_it(
        spans, keeping, voice_client, openai_server, auth_for) -> None:
    client = await voice_client(keeping[0].service("notes"))
    openai_server.script(tool_turn(("notes__delete_note", {"note_id": 1})))
    held = await (await client.post("/api/voice/llm", json={"query": "delete note 1"},
                                    headers=auth_for())).json()
    assert held["status"] == "confirmation_required"
    openai_server.script(text("Deleted."))
    confirmed = await (await client.post("/api/voice/confirm", headers=auth_for(), json={
        "confirmationId": held["confirmation"]["confirmationId"], "approved": True})).json()
    assert confirmed["status"] == "completed"
    mine = ours(await settled(client, spans))
    first, second = sorted(named(mine, "command"), key=lambda s: s.start_time or 0)
    assert "hold" in tree([s for s in mine if s.context.trace_id == first.context.trace_id]
                          )["command"]
    assert second.context.trace_id != first.context.trace_id
    [link] = second.links
    assert link.context.trace_id == first.context.trace_id
    assert dict(link.attributes or {})["voice_mcp.link"] == "confirmation"
    assert [s.name for s in mine if s.context.trace_id == second.context.trace_id
            and s.name.startswith("tools/call")] == ["tools/call delete_note"]


async def test_a_template_command_has_stages_and_a_stdio_tool_call_but_no_llm_span(
        spans, voice_client, time_service, openai_server, auth_for) -> None:
    client = await voice_client(time_service, local_intents="prefer", intents_dir=TIME_INTENTS)
    done = await (await client.post("/api/voice/llm", json={"query": "What time is it in Tokyo?"},
                                     headers=auth_for())).json()
    assert done["processedLocally"] is True
    mine = ours(await settled(client, spans))
    assert tree(mine)["command"] == ["analyze", "plan", "execute"]
    [tool] = named(mine, "tools/call get_current_time")
    assert attrs(tool)["network.transport"] == "pipe"
    assert not [s for s in mine if s.name.startswith("chat")]
    assert openai_server.chat_count == 0


async def test_a_recording_adds_a_transcription_span_and_speech_out_its_own(
        spans, voice_client, openai_server, auth_for, speech_samples) -> None:
    client = await voice_client()
    openai_server.script_transcription(QUERY).script(text("Noted."))
    done = await (await client.post("/api/voice/audio", data=speech_samples.read("wav"),
                                    headers={**auth_for(), "Content-Type": "audio/wav"})).json()
    assert done["transcript"] == QUERY
    resp = await client.post("/api/voice/speech", json={"text": "Noted."}, headers=auth_for())
    assert resp.status == 200 and await resp.read()
    finished = await settled(client, spans)
    mine = ours(finished)
    shape = tree(mine)
    assert shape["command"][0] == "transcribe"
    [stt] = [s for s in mine if s.name.startswith("speech_to_text ")]
    assert shape["transcribe"] == [stt.name]
    assert attrs(stt)["voice_mcp.speech.bytes"] == len(speech_samples.read("wav"))
    [tts] = [s for s in mine if s.name.startswith("text_to_speech ")]
    assert tts.context.trace_id != stt.context.trace_id
    assert attrs(tts)["voice_mcp.speech.chars"] == len("Noted.")
    assert "flowerpot" not in every_value(finished)
