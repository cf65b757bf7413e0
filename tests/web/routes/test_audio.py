"""Audio commands end to end: real speech (espeak-ng, re-encoded by sox/ffmpeg) uploaded to the
real app, transcribed by the fake OpenAI-compatible server, then run like a typed command."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from tests.audio import SpeechSamples
from tests.fakes.openai_server import OpenAIServer, call, text
from tests.sse import read_stream
from voice_mcp.services.orchestrator.intake import NOT_CAUGHT
from voice_mcp.services.store import free_port
from voice_mcp.web.routes.audio_upload import CHUNK

AUDIO = "/api/voice/audio"
STREAM = "/api/voice/audio/stream"
STT_MODEL = "whisper-large-v3-test"
HEARD = "what time is it in Tokyo"

# Per sample format: what a client would declare for a raw body, and the extension and type
# the transcription server must be told (Opus travels in Ogg, and is named so).
FORMATS: dict[str, tuple[str, str, str]] = {
    "wav": ("audio/wav", "wav", "audio/wav"),
    "flac": ("audio/flac", "flac", "audio/flac"),
    "ogg": ("audio/ogg", "ogg", "audio/ogg"),
    "mp3": ("audio/mpeg", "mp3", "audio/mpeg"),
    "opus": ("audio/opus", "ogg", "audio/ogg"),
    "webm": ("audio/webm", "webm", "audio/webm"),
    "m4a": ("audio/mp4", "m4a", "audio/mp4"),
}


def form(data: bytes, *, filename: str = "recording.wav", content_type: str = "audio/wav",
         conversation_id: str | None = None, field: str = "audio") -> aiohttp.FormData:
    """A multipart body as a browser or mobile app sends it."""
    body = aiohttp.FormData()
    if conversation_id is not None:
        body.add_field("conversationId", conversation_id)
    body.add_field(field, data, filename=filename, content_type=content_type)
    return body


def raw(content_type: str, **auth: str) -> dict[str, str]:
    return {**auth, "Content-Type": content_type}


def assert_nothing_sent(server: OpenAIServer) -> None:
    assert server.transcription_count == 0 and server.chat_count == 0


async def error_of(resp: aiohttp.ClientResponse, status: int, code: str) -> str:
    """Check the JSON error body of docs/api.md ("Errors"); return its message."""
    assert resp.status == status, await resp.text()
    assert resp.content_type == "application/json"
    body = await resp.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message"}, body
    assert body["error"]["code"] == code, body
    assert "Traceback" not in body["error"]["message"]
    return str(body["error"]["message"])


# ---------------------------------------------------------------------------------------------
# Real speech in every container this machine can make


@pytest.mark.parametrize("upload", ["multipart", "raw"])
@pytest.mark.parametrize("fmt", list(FORMATS))
async def test_each_format_reaches_the_stt_server_byte_for_byte(
        voice_client, openai_server, auth_for, speech_samples: SpeechSamples, fmt: str,
        upload: str) -> None:
    audio = speech_samples.read(fmt)
    declared, extension, stt_type = FORMATS[fmt]
    client = await voice_client(stt_model=STT_MODEL)
    openai_server.script_transcription(f"  {HEARD}\n").script(text("It is 9 pm in Tokyo."))
    if upload == "multipart":
        resp = await client.post(STREAM, data=form(audio, filename=f"clip.{fmt}",
                                                   content_type=declared,
                                                   conversation_id="conv-7"),
                                 headers=auth_for())
    else:
        resp = await client.post(f"{STREAM}?conversationId=conv-7", data=audio,
                                 headers=raw(declared, **auth_for()))
    stream = await read_stream(resp)

    [received] = openai_server.transcriptions
    assert received.file == audio
    assert received.filename is not None and received.filename.endswith(f".{extension}")
    assert received.content_type == stt_type
    assert received.fields == {"model": STT_MODEL}
    assert stream.types[:3] == ["transcribing", "transcribed", "analyzing"]
    assert stream.progress[1]["transcript"] == HEARD
    done = stream.done
    assert done["status"] == "completed" and done["response"] == "It is 9 pm in Tokyo."
    assert done["transcript"] == HEARD and done["query"] == HEARD
    assert done["conversationId"] == "conv-7"
    [chat] = openai_server.requests
    assert chat.last_user_text == HEARD


@pytest.mark.parametrize("upload", ["multipart", "raw"])
async def test_json_endpoint_runs_the_spoken_command(voice_client, time_service, openai_server,
                                                     auth_for, speech_samples, upload) -> None:
    audio = speech_samples.read("wav")
    client = await voice_client(time_service)
    openai_server.script_transcription(HEARD).script(
        call("time__get_current_time", {"timezone": "Asia/Tokyo"}), text("It is 9 pm in Tokyo."))
    if upload == "multipart":
        resp = await client.post(AUDIO, data=form(audio, conversation_id="spoken"),
                                 headers=auth_for())
    else:
        resp = await client.post(f"{AUDIO}?conversationId=spoken", data=audio,
                                 headers=raw("audio/wav", **auth_for()))
    assert resp.status == 200 and resp.content_type == "application/json"
    done = await resp.json()
    assert done["status"] == "completed" and done["success"] is True
    assert done["transcript"] == HEARD and done["query"] == HEARD
    assert done["conversationId"] == "spoken"
    [result] = done["results"]
    assert result["tool"] == "get_current_time" and "Asia/Tokyo" in result["output"]
    assert "transcribe" in done["timings"]
    assert openai_server.requests[0].last_user_text == HEARD
    assert openai_server.transcriptions[0].file == audio
    # The transcript is what the conversation remembers.
    history = await (await client.get("/api/voice/history?conversationId=spoken",
                                      headers=auth_for())).json()
    assert [t["query"] for t in history["turns"]] == [HEARD]


async def test_without_a_conversation_id_one_is_made(voice_client, openai_server, auth_for,
                                                     speech_samples) -> None:
    client = await voice_client()
    openai_server.script_transcription(HEARD).script(text("Hi."))
    resp = await client.post(AUDIO, data=speech_samples.read("flac"),
                             headers=raw("audio/flac", **auth_for()))
    done = await resp.json()
    assert done["status"] == "completed" and done["conversationId"]


async def test_transcribing_leaves_before_the_stt_answers(voice_client, openai_server, auth_for,
                                                          speech_samples) -> None:
    client = await voice_client()
    openai_server.hang(endpoint="transcriptions")
    resp = await client.post(STREAM, data=speech_samples.read("wav"),
                             headers=raw("audio/wav", **auth_for()))
    async with asyncio.timeout(5):
        first = await resp.content.readuntil(b"\r\n\r\n")
        await openai_server.wait_for_hanging()
    assert b'"type":"transcribing"' in first
    resp.close()


# ---------------------------------------------------------------------------------------------
# The bytes decide the format, not what the client declared


async def test_mp3_declared_as_wav_is_sent_as_mp3(voice_client, openai_server, auth_for,
                                                  speech_samples) -> None:
    audio = speech_samples.read("mp3")
    client = await voice_client()
    openai_server.script_transcription(HEARD).script(text("Noon."))
    resp = await client.post(AUDIO, data=audio, headers=raw("audio/wav", **auth_for()))
    assert (await resp.json())["transcript"] == HEARD
    [received] = openai_server.transcriptions
    assert received.file == audio
    assert received.filename is not None and received.filename.endswith(".mp3")
    assert received.content_type == "audio/mpeg"


async def test_octet_stream_file_part_is_recognised(voice_client, openai_server, auth_for,
                                                    speech_samples) -> None:
    audio = speech_samples.read("wav")
    client = await voice_client()
    openai_server.script_transcription(HEARD).script(text("Noon."))
    resp = await client.post(AUDIO, data=form(audio, filename="blob",
                                              content_type="application/octet-stream"),
                             headers=auth_for())
    assert (await resp.json())["status"] == "completed"
    [received] = openai_server.transcriptions
    assert received.file == audio and received.filename is not None
    assert received.filename.endswith(".wav") and received.content_type == "audio/wav"


async def test_raw_body_with_an_accepted_non_audio_type(voice_client, openai_server, auth_for,
                                                        speech_samples) -> None:
    client = await voice_client()
    openai_server.script_transcription(HEARD).script(text("Noon."))
    resp = await client.post(AUDIO, data=speech_samples.read("ogg"),
                             headers=raw("application/ogg", **auth_for()))
    assert (await resp.json())["status"] == "completed"


# ---------------------------------------------------------------------------------------------
# Uploads refused before anything is transcribed


FAKE_WAV = b"RIFF\x24\x00\x00\x00AVI LIST" + b"\x00" * 64  # a RIFF file, but not WAVE


@pytest.mark.parametrize("path", [AUDIO, STREAM])
async def test_wrong_types_are_415(voice_client, openai_server, auth_for, speech_samples,
                                   path) -> None:
    wav = speech_samples.read("wav")
    client = await voice_client()
    cases: list[tuple[Any, dict[str, str]]] = [
        (wav, raw("text/plain", **auth_for())),  # a real recording, declared as text
        (b'{"query": "hi"}', raw("application/json", **auth_for())),
        (b"this is not audio, whatever the header says", raw("audio/wav", **auth_for())),
        (FAKE_WAV, raw("audio/wav", **auth_for())),
        (form(b"plain text pretending to be a recording"), auth_for()),
    ]
    for body, headers in cases:
        resp = await client.post(path, data=body, headers=headers)
        message = await error_of(resp, 415, "unsupported_audio")
        assert "wav" in message and "flac" in message
    assert_nothing_sent(openai_server)


def _multipart_prefix(boundary: str, filename: str = "big.wav") -> bytes:
    return (f"--{boundary}\r\nContent-Disposition: form-data; name=\"audio\"; "
            f"filename=\"{filename}\"\r\nContent-Type: audio/wav\r\n\r\n").encode()


async def test_oversize_with_content_length_is_refused_unread(voice_client, openai_server,
                                                              auth_for, speech_samples) -> None:
    """A declared length over the cap is answered at once, while the body is still held back."""
    wav = speech_samples.read("wav")
    client = await voice_client(max_audio_bytes=4096)
    answered = asyncio.Event()
    sent = 0

    async def body() -> AsyncIterator[bytes]:
        nonlocal sent
        sent += 1024
        yield wav[:1024]
        await answered.wait()  # the rest never comes unless the server answered first

    declared = 10 * 1024 * 1024
    async with asyncio.timeout(10):
        resp = await client.post(STREAM, data=body(), headers={
            **raw("audio/wav", **auth_for()), "Content-Length": str(declared),
            "Connection": "close"})
        answered.set()
        assert sent < declared
        message = await error_of(resp, 413, "audio_too_large")
    assert "4096" in message
    assert_nothing_sent(openai_server)


@pytest.mark.parametrize("upload", ["multipart", "raw"])
async def test_chunked_oversize_is_refused_before_the_body_ends(
        voice_client, openai_server, auth_for, speech_samples, upload) -> None:
    """No Content-Length: the server counts as it reads and answers 413 mid-upload."""
    limit = 4096
    # A few read chunks go out freely (aiohttp's multipart reader looks one chunk ahead for the
    # boundary); then nothing more until the server has answered, so a server that waited for
    # the end of the body would never answer.
    free = (speech_samples.read("wav") * 8)[:4 * CHUNK]
    client = await voice_client(max_audio_bytes=limit)
    answered = asyncio.Event()
    boundary = "voice-mcp-test-boundary"
    sent = 0

    async def body() -> AsyncIterator[bytes]:
        nonlocal sent
        if upload == "multipart":
            yield _multipart_prefix(boundary)
        for start in range(0, len(free), 4096):
            sent += 4096
            yield free[start:start + 4096]
        await answered.wait()
        yield b"never read: " * 1000

    content_type = (f"multipart/form-data; boundary={boundary}" if upload == "multipart"
                    else "audio/wav")
    async with asyncio.timeout(10):
        resp = await client.post(STREAM, data=body(),
                                 headers={**raw(content_type, **auth_for()), "Connection": "close"})
        answered.set()
        assert "Content-Length" not in resp.request_info.headers
        assert resp.request_info.headers.get("Transfer-Encoding") == "chunked"
        await error_of(resp, 413, "audio_too_large")
    assert sent == len(free)
    assert_nothing_sent(openai_server)


@pytest.mark.parametrize("upload", ["multipart", "raw"])
async def test_the_cap_is_exact(voice_client, openai_server, auth_for, speech_samples,
                                upload) -> None:
    wav = speech_samples.read("wav")

    async def post(limit: int) -> aiohttp.ClientResponse:
        client = await voice_client(max_audio_bytes=limit)
        data: Any = form(wav) if upload == "multipart" else wav
        headers = auth_for() if upload == "multipart" else raw("audio/wav", **auth_for())
        return await client.post(AUDIO, data=data, headers=headers)

    await error_of(await post(len(wav) - 1), 413, "audio_too_large")
    assert_nothing_sent(openai_server)
    openai_server.script_transcription(HEARD).script(text("Noon."))
    resp = await post(len(wav))
    assert resp.status == 200 and (await resp.json())["transcript"] == HEARD


@pytest.mark.parametrize("path", [AUDIO, STREAM])
async def test_bad_uploads_are_400(voice_client, openai_server, auth_for, speech_samples,
                                   path) -> None:
    wav = speech_samples.read("wav")
    client = await voice_client()
    only_id = aiohttp.FormData(default_to_multipart=True)
    only_id.add_field("conversationId", "c1")
    cases: list[tuple[str, Any, dict[str, str], str]] = [
        ("", b"", raw("audio/wav", **auth_for()), "empty_audio"),
        ("", form(b""), auth_for(), "empty_audio"),
        ("", only_id, auth_for(), "missing_audio"),
        ("", form(wav, field="file"), auth_for(), "invalid_multipart"),
        ("", form(wav, conversation_id="no spaces allowed"), auth_for(), "invalid_body"),
        ("", form(wav, conversation_id="x" * 65), auth_for(), "invalid_body"),
        ("", form(wav, conversation_id="x" * 300), auth_for(), "invalid_body"),
        ("?conversationId=bad%20id", wav, raw("audio/wav", **auth_for()), "invalid_body"),
        ("", b"--nope\r\n\r\n", raw("multipart/form-data; boundary=other", **auth_for()),
         "invalid_multipart"),
        ("", b"anything", raw("multipart/form-data", **auth_for()), "invalid_multipart"),
    ]
    for query, body, headers, code in cases:
        resp = await client.post(path + query, data=body, headers=headers)
        message = await error_of(resp, 400, code)
        if code == "invalid_body":
            assert message == "conversationId: not a valid id."
    assert_nothing_sent(openai_server)


async def test_audio_needs_a_token(voice_client, openai_server, speech_samples) -> None:
    client = await voice_client()
    resp = await client.post(AUDIO, data=speech_samples.read("wav"),
                             headers={"Content-Type": "audio/wav"})
    await error_of(resp, 401, "missing_token")
    assert_nothing_sent(openai_server)


# ---------------------------------------------------------------------------------------------
# When transcription fails or hears nothing


async def _failed_stream(client, auth, wav: bytes) -> dict[str, Any]:
    stream = await read_stream(await client.post(STREAM, data=wav,
                                                 headers=raw("audio/wav", **auth)))
    assert stream.types == ["transcribing"]
    [error] = stream.errors
    assert [e for _, e, _ in stream.events][-2:] == ["error", "done"]
    done = stream.done
    assert done["status"] == "failed" and done["success"] is False
    assert done["error"]["code"] == error["code"] and done["transcript"] is None
    assert "Traceback" not in stream.raw and "sk-" not in stream.raw
    return error


@pytest.mark.parametrize(("status", "retryable"), [(500, True), (503, True), (400, False)])
async def test_stt_errors_end_failed(voice_client, openai_server, auth_for, speech_samples,
                                     status, retryable) -> None:
    client = await voice_client()
    openai_server.fail(status, times=None, endpoint="transcriptions")
    error = await _failed_stream(client, auth_for(), speech_samples.read("wav"))
    assert error["code"] == "transcription_failed" and error["retryable"] is retryable
    assert openai_server.transcription_count == 1 and openai_server.chat_count == 0


async def test_stt_server_down_is_retryable(voice_client, openai_server, auth_for,
                                            speech_samples) -> None:
    client = await voice_client(stt_base_url=f"http://127.0.0.1:{free_port()}/v1")
    error = await _failed_stream(client, auth_for(), speech_samples.read("wav"))
    assert error["code"] == "transcription_failed" and error["retryable"] is True
    assert openai_server.chat_count == 0


async def test_stt_hang_ends_at_the_stt_timeout(voice_client, openai_server, auth_for,
                                                speech_samples) -> None:
    client = await voice_client(stt_timeout_s=0.3, request_timeout_s=30)
    openai_server.hang(times=None, endpoint="transcriptions")
    error = await _failed_stream(client, auth_for(), speech_samples.read("wav"))
    assert error["code"] == "transcription_failed" and error["retryable"] is True
    assert "0.3 s" in error["message"]
    async with asyncio.timeout(5):
        await openai_server.disconnected.wait()
    assert openai_server.disconnects == ["transcriptions"] and openai_server.chat_count == 0


async def test_stt_failure_on_the_json_endpoint(voice_client, openai_server, auth_for,
                                                speech_samples) -> None:
    client = await voice_client()
    openai_server.fail(400, endpoint="transcriptions", message="Invalid file format.")
    resp = await client.post(AUDIO, data=speech_samples.read("wav"),
                             headers=raw("audio/wav", **auth_for()))
    assert resp.status == 200
    done = await resp.json()
    assert done["status"] == "failed"
    assert done["error"]["code"] == "transcription_failed" and done["error"]["retryable"] is False


@pytest.mark.parametrize("heard", ["", "   ", "...", " ?! \n"])
async def test_nothing_intelligible_asks_again_without_the_llm(
        voice_client, openai_server, auth_for, speech_samples, heard) -> None:
    client = await voice_client()
    openai_server.script_transcription(heard)
    stream = await read_stream(await client.post(STREAM, data=form(speech_samples.read("wav")),
                                                 headers=auth_for()))
    assert stream.types == ["transcribing", "transcribed"]
    assert stream.progress[1]["transcript"] == heard.strip()
    assert stream.errors == []
    done = stream.done
    assert done["status"] == "clarification_needed" and done["success"] is False
    assert done["response"] == NOT_CAUGHT and done["clarification"] == {"question": NOT_CAUGHT}
    assert done["transcript"] == heard.strip() and done["results"] == []
    assert openai_server.transcription_count == 1 and openai_server.chat_count == 0


@pytest.mark.parametrize("path", [AUDIO, STREAM])
async def test_a_wav_naming_an_absurd_rate_is_400_before_the_command(
        voice_client, openai_server, auth_for, path) -> None:
    """The decompression bomb of docs/security.md: 1 MB said to be 100 Hz (10,000 s)."""
    from tests.services.stt.test_bounds import bomb

    client = await voice_client()
    resp = await client.post(path, data=form(bomb()), headers=auth_for())
    assert "100 Hz" in await error_of(resp, 400, "bad_audio")
    assert_nothing_sent(openai_server)
