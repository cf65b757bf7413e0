"""Sentence templates in the pipeline: the real app, the real mcp-server-time over stdio,
the notes server over HTTP for the risk gate, the fake OpenAI server counting LLM requests."""

from __future__ import annotations

import io
import random
import wave
from pathlib import Path

import pytest
from aiohttp import web

from tests.conftest import JWT_SECRET
from tests.fakes.openai_server import text
from tests.fixtures.mcp_servers import make_catalog
from tests.sse import read_stream
from voice_mcp.services.orchestrator.intake import NOT_CAUGHT
from voice_mcp.settings import ConfigError, Settings
from voice_mcp.web.app import create_app

TIME_INTENTS = Path(__file__).resolve().parents[3] / "config" / "intents"
STREAM = "/api/voice/llm/stream"
AUDIO = "/api/voice/audio"
NOTES_YAML = """
intents:
  DeleteNote:
    tool: delete_note
    data: [{sentences: ["(delete|remove) note [number] {number}"]}]
    arguments: {note_id: {slot: number, convert: int}}
    response: "Done: {text}."
    examples: ["Delete note 1"]
lists:
  number: {range: {from: 1, to: 50}}
"""


@pytest.fixture
def local_client(voice_client, time_service):
    """The app with the shipped time templates; `no_llm=True` removes the LLM settings."""

    async def build(*extra, no_llm: bool = False, **overrides):
        values = {"local_intents": "prefer", "intents_dir": TIME_INTENTS, **overrides}
        if no_llm:
            values.update(openai_api_key=None, llm_base_url=None, stt_base_url=None)
        return await voice_client(time_service, *extra, **values)

    return build


async def test_a_matching_command_runs_locally_without_the_llm(local_client, openai_server,
                                                               auth_for) -> None:
    client = await local_client()
    stream = await read_stream(await client.post(
        STREAM, json={"query": "What time is it in Tokyo?"}, headers=auth_for()))
    assert stream.types == ["analyzing", "selecting", "executing", "executed"]
    selecting = stream.progress[1]
    assert selecting["local"] is True and selecting["tools"] == ["time.get_current_time"]
    done = stream.done
    assert done["status"] == "completed" and done["processedLocally"] is True
    [result] = done["results"]
    assert result["arguments"] == {"timezone": "Asia/Tokyo"} and result["success"]
    clock = result["output"].split('"datetime": "')[1][11:16]  # HH:MM in Tokyo, from the tool
    hour, minute = int(clock[:2]), clock[3:]
    said = f"{hour % 12 or 12}:{minute} {'am' if hour < 12 else 'pm'}"
    assert done["response"] == f"It's {said} in Tokyo."
    assert openai_server.chat_count == 0


async def test_converting_a_time_answers_from_the_structured_result(local_client, openai_server,
                                                                    auth_for) -> None:
    client = await local_client()
    resp = await client.post("/api/voice/llm", headers=auth_for(),
                             json={"query": "what is 3 pm in London in Tokyo"})
    done = await resp.json()
    assert done["results"][0]["arguments"] == {"time": "15:00", "source_timezone": "Europe/London",
                                               "target_timezone": "Asia/Tokyo"}
    assert done["response"] == "3:00 pm in London is 12:00 am " + done["response"].split()[-3] \
        + " in Tokyo."
    assert done["response"].split()[-3] in ("Monday", "Tuesday", "Wednesday", "Thursday",
                                            "Friday", "Saturday", "Sunday")
    assert openai_server.chat_count == 0


async def test_other_commands_still_go_to_the_llm(local_client, openai_server, auth_for) -> None:
    client = await local_client()
    openai_server.script(text("Hello there."))
    done = await (await client.post("/api/voice/llm", json={"query": "say hello"},
                                    headers=auth_for())).json()
    assert done["response"] == "Hello there." and done["processedLocally"] is False
    assert openai_server.chat_count == 1


async def test_without_an_llm_matches_run_and_the_rest_name_examples(local_client, openai_server,
                                                                     auth_for) -> None:
    client = await local_client(no_llm=True)
    done = await (await client.post("/api/voice/llm", json={"query": "what time is it in Paris"},
                                    headers=auth_for())).json()
    assert done["status"] == "completed" and done["response"].endswith("in Paris.")
    stream = await read_stream(await client.post(STREAM, json={"query": "book me a flight"},
                                                 headers=auth_for()))
    done = stream.done
    assert done["status"] == "failed" and done["error"]["code"] == "llm_not_configured"
    assert stream.errors[0]["code"] == "llm_not_configured"
    assert '"What time is it in Tokyo?"' in done["response"]
    assert openai_server.chat_count == 0


async def test_a_slot_that_fails_validation_does_not_run(local_client, openai_server,
                                                         auth_for) -> None:
    client = await local_client(no_llm=True)
    done = await (await client.post("/api/voice/llm", headers=auth_for(), json={
        "query": "what is 13 pm in London in Tokyo"})).json()
    assert done["status"] == "failed" and done["results"] == []
    assert "couldn't do that" in done["response"] and "13 pm" in done["response"]
    # With an LLM, the same command falls through to it.
    client = await local_client()
    openai_server.script(text("Thirteen pm is not a time."))
    done = await (await client.post("/api/voice/llm", headers=auth_for(), json={
        "query": "what is 13 pm in London in Tokyo"})).json()
    assert done["response"] == "Thirteen pm is not a time." and openai_server.chat_count == 1


async def test_examples_come_from_the_templates(local_client, auth_for) -> None:
    client = await local_client(no_llm=True)
    body = await (await client.get("/api/voice/examples", headers=auth_for())).json()
    assert body["examples"][:2] == ["What time is it in Tokyo?", "What's the time in New York?"]
    client = await local_client(local_intents="off", no_llm=True)
    resp = await client.post("/api/voice/llm", json={"query": "what time is it in Tokyo"},
                             headers=auth_for())
    assert resp.status == 503
    assert (await resp.json())["error"]["code"] == "llm_not_configured"


async def test_a_risky_match_is_held_and_approval_runs_it(local_client, notes_http_server,
                                                         openai_server, auth_for,
                                                         tmp_path) -> None:
    (tmp_path / "notes.yaml").write_text(NOTES_YAML)
    client = await local_client(notes_http_server.service("notes"), intents_dir=tmp_path,
                                no_llm=True)
    stream = await read_stream(await client.post(STREAM, json={"query": "delete note 2"},
                                                 headers=auth_for()))
    assert stream.types == ["analyzing", "selecting", "confirmation_required"]
    done = stream.done
    assert done["status"] == "confirmation_required" and done["processedLocally"] is True
    assert done["confirmation"]["actions"][0]["arguments"] == {"note_id": 2}
    assert notes_http_server.stats.tool_calls["delete_note"] == 0
    resp = await client.post("/api/voice/confirm", headers=auth_for(), json={
        "confirmationId": done["confirmation"]["confirmationId"], "approved": True})
    done = await resp.json()
    assert done["status"] == "completed" and done["processedLocally"] is True
    assert done["response"] == "Done: Deleted note 2."
    assert notes_http_server.stats.tool_calls["delete_note"] == 1
    assert openai_server.chat_count == 0


async def test_history_keeps_local_turns_for_an_llm_follow_up(local_client, openai_server,
                                                             auth_for) -> None:
    client = await local_client()
    first = await (await client.post("/api/voice/llm", headers=auth_for(), json={
        "query": "what time is it in Tokyo", "conversationId": "c1"})).json()
    openai_server.script(text("That is in Japan."))
    await client.post("/api/voice/llm", headers=auth_for(), json={
        "query": "which country is that in?", "conversationId": "c1"})
    [request] = openai_server.requests
    contents = [m.get("content") for m in request.messages]
    assert "what time is it in Tokyo" in contents
    assert any(first["response"] in (c or "") for c in contents)


async def test_fallback_asks_the_llm_first(local_client, openai_server, auth_for) -> None:
    client = await local_client(local_intents="fallback")
    openai_server.script(text("Ask me later."))
    done = await (await client.post("/api/voice/llm", headers=auth_for(), json={
        "query": "what time is it in Tokyo"})).json()
    assert done["response"] == "Ask me later." and done["processedLocally"] is False


async def test_a_template_naming_an_unknown_tool_stops_start_up(redis_url, time_service,
                                                                tmp_path) -> None:
    (tmp_path / "time.yaml").write_text((TIME_INTENTS / "time.yaml").read_text().replace(
        "tool: convert_time", "tool: convert_times"))
    settings = Settings(_env_file=None, redis_url=redis_url, jwt_secret=JWT_SECRET,
                        intents_dir=tmp_path)
    runner = web.AppRunner(create_app(settings, catalog=make_catalog(time_service)))
    try:
        with pytest.raises(ConfigError) as caught:
            await runner.setup()  # start-up: the cleanup contexts run up to the check
    finally:
        await runner.cleanup()
    assert str(caught.value) == (f"{tmp_path / 'time.yaml'}: intent ConvertTime: tool "
                                 "'convert_times' is not one of time's tools "
                                 "(convert_time, get_current_time)")


def _tokyo_said(done: dict) -> str:
    """'9:14 pm' for the Tokyo time the tool returned, as the template says it."""
    clock = done["results"][0]["output"].split('"datetime": "')[1][11:16]
    hour, minute = int(clock[:2]), clock[3:]
    return f"{hour % 12 or 12}:{minute} {'am' if hour < 12 else 'pm'}"


async def test_a_spoken_command_runs_offline_with_nothing_configured(
        local_client, openai_server, auth_for, speech_samples) -> None:
    """espeak-ng says it; pocketsphinx hears it; the template runs it: no LLM, no STT server."""
    client = await local_client(no_llm=True, stt="local", stt_timeout_s=300)  # loaded CI
    resp = await client.post(AUDIO, data=speech_samples.read("wav"),
                             headers={**auth_for(), "Content-Type": "audio/wav"})
    assert resp.status == 200, await resp.text()
    done = await resp.json()
    assert done["status"] == "completed" and done["processedLocally"] is True, done
    assert done["transcript"] == "what time is it in tokyo"
    [result] = done["results"]
    assert result["tool"] == "get_current_time" and result["arguments"] == {
        "timezone": "Asia/Tokyo"}
    assert done["response"] == f"It's {_tokyo_said(done)} in Tokyo."
    assert openai_server.chat_count == 0 and openai_server.transcription_count == 0


def _white_noise_wav(seconds: int) -> bytes:
    rng = random.Random(11)
    frames = b"".join(int(rng.gauss(0.0, 6000.0)).to_bytes(2, "little", signed=True)
                      for _ in range(16000 * seconds))
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as writer:
        writer.setnchannels(1)
        writer.setsampwidth(2)
        writer.setframerate(16000)
        writer.writeframes(frames)
    return buffer.getvalue()


async def test_noise_ends_with_a_clear_answer_not_a_hang(local_client, openai_server,
                                                         auth_for) -> None:
    """Ten seconds of white noise (under the 15 s cap): heard as nothing, so asked again; or
    heard as words no template takes, so the no-LLM failure; never a 500 or a tool run."""
    client = await local_client(no_llm=True, stt="local", stt_timeout_s=120)
    resp = await client.post(AUDIO, data=_white_noise_wav(10),
                             headers={**auth_for(), "Content-Type": "audio/wav"})
    assert resp.status == 200, await resp.text()
    done = await resp.json()
    assert done["results"] == [] and done["processedLocally"] is False
    if done["status"] == "clarification_needed":
        assert done["response"] == NOT_CAUGHT
    else:
        assert done["status"] == "failed", done
        assert done["error"]["code"] in ("llm_not_configured", "transcription_failed"), done
        assert done["response"]
    assert openai_server.chat_count == 0 and openai_server.transcription_count == 0


async def test_a_long_recording_ends_at_the_cap_while_another_user_is_served(
        local_client, openai_server, auth_for, speech_samples) -> None:
    """50 minutes of 8 kHz audio in 24 MB (a plausible header): the decode stops at the cap
    and the stream ends with `audio_too_long`; meanwhile another user's command completes."""
    import asyncio

    from tests.services.stt.test_bounds import wav

    client = await local_client(no_llm=True, stt="local", stt_timeout_s=300)  # loaded CI
    hostile = client.post("/api/voice/audio/stream", data=wav(8_000, 3_000),
                          headers={**auth_for("mallory"), "Content-Type": "audio/wav"})
    fair = client.post(AUDIO, data=speech_samples.read("wav"),
                       headers={**auth_for("alice"), "Content-Type": "audio/wav"})
    bomb, spoken = await asyncio.gather(hostile, fair)
    stream = await read_stream(bomb)
    assert stream.errors[0]["code"] == "audio_too_long" and stream.done["status"] == "failed"
    done = await spoken.json()
    assert done["status"] == "completed" and done["transcript"] == "what time is it in tokyo"
