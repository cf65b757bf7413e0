"""The answer as `delta` events, `continueConversation`, and the latency breakdown."""

from __future__ import annotations

import pytest

from tests.fakes.openai_server import call, pieces, tool_turn
from tests.sse import Stream, read_stream

TOKYO = call("time__get_current_time", {"timezone": "Asia/Tokyo"})
STREAM = "/api/voice/llm/stream"
ZWJ = "\u200d"
FAMILY = f"👨{ZWJ}👩{ZWJ}👧{ZWJ}👦"
STAGES = {"transcribe", "analyze", "discover", "plan", "execute", "hold", "summarize"}


def deltas(stream: Stream) -> list[str]:
    return [d["text"] for _, e, d in stream.events if e == "delta"]


def kinds(stream: Stream) -> list[str]:
    return [e for _, e, _ in stream.events]


async def ask(client, auth, query: str = "what time is it in Tokyo") -> Stream:
    return await read_stream(await client.post(STREAM, json={"query": query}, headers=auth))


@pytest.mark.parametrize("parts", [
    ("It is", " 9 pm", " in Tokyo."),
    ("Café à la crème, ", "déjà vu ", "à Zürich."),
    ("東京は", "今、午後", "九時です。"),
    # Cut inside a ZWJ family and between a flag's two regional indicators.
    ("Family: 👨", f"{ZWJ}👩{ZWJ}", f"👧{ZWJ}", "👦 and 🇯", "🇵 done."),
    ("  Leading and trailing space.  ",),
], ids=["ascii", "accents", "cjk", "emoji", "spaces"])
async def test_deltas_come_before_done_and_join_to_the_response(
        voice_client, time_service, openai_server, auth_for, parts) -> None:
    client = await voice_client(time_service)
    openai_server.script(TOKYO, pieces(*parts))
    stream = await ask(client, auth_for())
    said = deltas(stream)
    assert said and "".join(said) == stream.done["response"] == "".join(parts).strip()
    order = kinds(stream)
    assert order[-1] == "done" and order.index("done") > max(
        i for i, kind in enumerate(order) if kind == "delta")
    assert not any(piece.endswith(ZWJ) for piece in said)  # a joiner waits for what it joins
    assert stream.done["continueConversation"] is False


async def test_long_answers_are_coalesced(voice_client, time_service, openai_server,
                                          auth_for) -> None:
    client = await voice_client(time_service)
    words = [f"w{i} " for i in range(300)]  # no sentence end: only the timer flushes
    openai_server.script(TOKYO, pieces(*words))
    stream = await ask(client, auth_for())
    said = deltas(stream)
    assert "".join(said) == stream.done["response"] == "".join(words).strip()
    assert len(said) < len(words) / 3


async def test_tool_rounds_send_no_deltas(voice_client, time_service, openai_server,
                                          auth_for) -> None:
    client = await voice_client(time_service)
    openai_server.script(TOKYO, "It is 9 pm in Tokyo.")
    stream = await ask(client, auth_for())
    order = [(e, d.get("type")) for _, e, d in stream.events]
    first_delta = next(i for i, (kind, _) in enumerate(order) if kind == "delta")
    assert first_delta > order.index(("progress", "summarizing"))
    assert "".join(deltas(stream)) == "It is 9 pm in Tokyo."


async def test_text_before_a_tool_call_is_kept_in_the_response(
        voice_client, time_service, openai_server, auth_for) -> None:
    client = await voice_client(time_service)
    openai_server.script(tool_turn(TOKYO, content="Let me check."), "It is 9 pm.")
    stream = await ask(client, auth_for())
    assert "".join(deltas(stream)) == stream.done["response"] == "Let me check. It is 9 pm."


async def test_json_answer_is_unchanged_and_not_streamed(voice_client, time_service,
                                                         openai_server, auth_for) -> None:
    client = await voice_client(time_service)
    openai_server.script(TOKYO, "Anything else?")
    resp = await client.post("/api/voice/llm", json={"query": "time in Tokyo"},
                             headers=auth_for())
    done = await resp.json()
    assert done["response"] == "Anything else?" and done["continueConversation"] is True
    assert not any(r.stream for r in openai_server.requests)  # VOICE_MCP_LLM_STREAM=false
    assert {"llm1", "llm2", "tool1"} <= set(done["timings"])
    assert "firstDelta" in done["timings"]  # the whole answer, as one delta, on the same path


@pytest.mark.parametrize(("script", "expected", "again"), [
    ([call("ask_user", {"question": "Which city?"})], "Which city?", True),
    (["Do you want the time in Osaka too?"], "Do you want the time in Osaka too?", True),
    (["¿Quieres más? 🌸"], "¿Quieres más? 🌸", True),
    (["It is 9 pm."], "It is 9 pm.", False),
], ids=["ask_user", "question", "question_then_emoji", "statement"])
async def test_continue_conversation(voice_client, time_service, openai_server, auth_for,
                                     script, expected, again) -> None:
    client = await voice_client(time_service)
    openai_server.script(*script)
    stream = await ask(client, auth_for())
    done = stream.done
    assert done["response"] == expected == "".join(deltas(stream))
    assert done["continueConversation"] is again


async def test_a_held_action_asks_to_continue(voice_client, notes_http_server, openai_server,
                                              auth_for) -> None:
    client = await voice_client(notes_http_server.service("notes"))
    openai_server.script(tool_turn(("notes__delete_note", {"note_id": 1})))
    stream = await ask(client, auth_for(), "delete note 1")
    done = stream.done
    assert done["status"] == "confirmation_required" and done["continueConversation"] is True
    assert "".join(deltas(stream)) == done["response"]
    assert "hold" in done["timings"]


async def test_the_breakdown_adds_up(voice_client, time_service, openai_server,
                                     auth_for) -> None:
    client = await voice_client(time_service)
    openai_server.delay_s = 0.05  # each LLM round takes visible time
    openai_server.script(TOKYO, "It is 9 pm in Tokyo.")
    stream = await ask(client, auth_for())
    done = stream.done
    timings, total = done["timings"], done["totalExecutionTime"]
    stages = {k: v for k, v in timings.items() if k in STAGES}
    assert set(stages) == {"analyze", "discover", "plan", "execute", "summarize"}
    # Each stage is rounded to whole ms; what runs after the last stage is a few ms at most.
    assert abs(sum(stages.values()) - total) <= len(stages) / 2 + 5, timings
    assert set(timings) - STAGES == {"llm1", "llm1FirstToken", "llm2", "llm2FirstToken",
                                     "tool1", "firstDelta"}
    assert 50 <= timings["llm1FirstToken"] <= timings["llm1"] <= timings["plan"] + 1
    assert 50 <= timings["llm2FirstToken"] <= timings["llm2"] <= timings["summarize"] + 1
    assert timings["tool1"] <= timings["execute"] + 1
    assert done["results"][0]["durationMs"] == timings["tool1"]
    before_answer = timings["analyze"] + timings["discover"] + timings["plan"] + timings[
        "execute"]
    assert before_answer + timings["llm2FirstToken"] - 2 <= timings["firstDelta"] <= total
    metrics = await (await client.get("/metrics")).text()
    assert "voice_mcp_first_delta_seconds_count 1.0" in metrics
    assert 'voice_mcp_llm_round_duration_seconds_count{phase="first_token",round="2"} 1.0' \
        in metrics
    assert 'voice_mcp_tool_call_duration_seconds_count{service="time"} 1.0' in metrics


async def test_an_error_is_said_before_the_error_event(voice_client, time_service,
                                                       openai_server, auth_for) -> None:
    client = await voice_client(time_service)
    openai_server.fail(401, times=None, message="bad key sk-live-123")
    stream = await ask(client, auth_for())
    assert kinds(stream)[-3:] == ["delta", "error", "done"]
    [error] = stream.errors
    assert "".join(deltas(stream)) == stream.done["response"] == error["message"]
    assert "sk-live" not in stream.raw
    assert '\r\nevent: delta\r\ndata: {"text":' in stream.raw  # docs/api.md, Events
