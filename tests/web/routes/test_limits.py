"""Limits hold whatever the client sends (issue 10.8): the transcript, every part of an
upload, and the rate limit before any body is read."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import aiohttp

from tests.audio import SpeechSamples
from tests.sse import read_stream
from tests.web.routes.test_audio import STREAM, error_of, form

BOUNDARY = "voice-mcp-limits-boundary"


def _part_head(name: str, filename: str | None = None) -> bytes:
    disposition = f'form-data; name="{name}"' + (f'; filename="{filename}"' if filename else "")
    return f"--{BOUNDARY}\r\nContent-Disposition: {disposition}\r\n\r\n".encode()


async def test_a_long_transcript_is_refused_before_the_llm_and_history(
        voice_client, openai_server, auth_for, speech_samples: SpeechSamples) -> None:
    client = await voice_client(max_query_chars=50)
    spoken = "delete every note " * 40  # 720 characters
    openai_server.script_transcription(spoken)
    resp = await client.post(STREAM, data=form(speech_samples.read("wav"),
                                               conversation_id="long1"), headers=auth_for())
    stream = await read_stream(resp)
    [error] = stream.errors
    assert error["code"] == "transcript_too_long" and "50" in error["message"]
    done = stream.done
    assert done["status"] == "failed"
    assert len(done["transcript"]) <= 51 and spoken not in str(done)
    assert openai_server.chat_count == 0
    history = await client.get("/api/voice/history?conversationId=long1", headers=auth_for())
    assert (await history.json())["turns"] == []


async def test_a_large_extra_part_is_refused_without_reading_it(
        voice_client, openai_server, auth_for, speech_samples: SpeechSamples) -> None:
    """Chunked, no length: an unknown field is answered at once, not read (or drained) whole."""
    client = await voice_client(max_audio_bytes=64 * 1024)
    answered = asyncio.Event()

    async def body() -> AsyncIterator[bytes]:
        yield _part_head("notes")
        yield b"x" * 4096
        await answered.wait()  # the rest comes only after the server has answered
        yield b"y" * 1024 * 1024

    headers = {**auth_for(), "Content-Type": f"multipart/form-data; boundary={BOUNDARY}",
               "Connection": "close"}
    async with asyncio.timeout(20):
        resp = await client.post(STREAM, data=body(), headers=headers)
        answered.set()
        message = await error_of(resp, 400, "invalid_multipart")
    assert "notes" in message
    assert openai_server.transcription_count == 0


async def test_a_second_audio_part_is_refused(voice_client, openai_server, auth_for,
                                              speech_samples: SpeechSamples) -> None:
    wav = speech_samples.read("wav")
    client = await voice_client()
    data = aiohttp.FormData()
    data.add_field("audio", wav, filename="a.wav", content_type="audio/wav")
    data.add_field("audio", wav, filename="b.wav", content_type="audio/wav")
    resp = await client.post(STREAM, data=data, headers=auth_for())
    await error_of(resp, 400, "invalid_multipart")
    assert openai_server.transcription_count == 0


async def test_the_rate_limit_answers_before_the_body_is_read(
        voice_client, openai_server, auth_for, speech_samples: SpeechSamples) -> None:
    from tests.fakes.openai_server import text

    client = await voice_client(rate_limit_per_minute=1)
    openai_server.script(text("First."))
    first = await client.post("/api/voice/llm", json={"query": "hello"}, headers=auth_for())
    assert first.status == 200
    answered = asyncio.Event()

    async def body() -> AsyncIterator[bytes]:
        yield speech_samples.read("wav")[:1024]
        await answered.wait()
        yield b"\0" * 1024

    for path, content_type in (("/api/voice/llm", "application/json"), (STREAM, "audio/wav")):
        async with asyncio.timeout(20):
            resp = await client.post(path, data=body(), headers={
                **auth_for(), "Content-Type": content_type, "Connection": "close"})
            answered.set()
            await error_of(resp, 429, "rate_limited")
            assert int(resp.headers["Retry-After"]) >= 1
        answered.clear()
