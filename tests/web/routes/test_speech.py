"""`POST /api/voice/speech`: local espeak-ng and an OpenAI-compatible server, streamed audio."""

from __future__ import annotations

import shutil
import struct
import subprocess
from pathlib import Path

import pytest

SPEECH = "/api/voice/speech"
needs_espeak = pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="needs espeak-ng")
needs_ffmpeg = pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="needs ffmpeg")


def riff_pcm(data: bytes) -> tuple[int, int, int, int]:
    """(channels, rate, bits, data bytes present) of a PCM WAV, from its header alone."""
    assert data[:4] == b"RIFF" and data[8:12] == b"WAVE", data[:16]
    offset = 12
    fmt: tuple[int, int, int] | None = None
    while offset + 8 <= len(data):
        chunk, size = data[offset:offset + 4], struct.unpack("<I", data[offset + 4:offset + 8])[0]
        body = offset + 8
        if chunk == b"fmt ":
            tag, channels, rate = struct.unpack("<HHI", data[body:body + 8])
            bits = struct.unpack("<H", data[body + 14:body + 16])[0]
            assert tag == 1, "PCM expected"
            fmt = (channels, rate, bits)
        elif chunk == b"data":
            assert fmt is not None
            return (*fmt, len(data) - body)
        offset = body + size
    raise AssertionError("no data chunk")


def decoded_seconds(path: Path) -> float:
    """Decode the file with ffmpeg (any format) and return its duration from the decoded PCM."""
    pcm = subprocess.run(["ffmpeg", "-hide_banner", "-loglevel", "error", "-i", str(path),
                          "-f", "s16le", "-ac", "1", "-ar", "16000", "pipe:1"],
                         capture_output=True, check=True).stdout
    return len(pcm) / 32000


@needs_espeak
async def test_local_espeak_streams_playable_wav(voice_client, auth_for, tmp_path) -> None:
    client = await voice_client(tts="local")
    resp = await client.post(SPEECH, json={"text": "It is nine in Tokyo."}, headers=auth_for())
    assert resp.status == 200, await resp.text()
    assert resp.headers["Content-Type"] == "audio/wav"
    audio = await resp.read()
    channels, rate, bits, data_bytes = riff_pcm(audio)
    assert (channels, bits) == (1, 16) and rate > 8000
    seconds = data_bytes / (rate * 2)
    assert 0.5 < seconds < 5, seconds  # a short sentence, actually spoken
    path = tmp_path / "speech.wav"
    path.write_bytes(audio)
    stat = subprocess.run(["sox", str(path), "-n", "stat"], capture_output=True, text=True,
                          check=True).stderr
    amplitude = float(next(line for line in stat.splitlines()
                           if line.startswith("Maximum amplitude")).split(":")[1])
    assert amplitude > 0.05  # not silence


@needs_espeak
@needs_ffmpeg
@pytest.mark.parametrize(("fmt", "media", "magic"), [("mp3", "audio/mpeg", (b"ID3", b"\xff")),
                                                     ("opus", "audio/ogg", (b"OggS",))])
async def test_local_mp3_and_opus_through_ffmpeg(voice_client, auth_for, tmp_path, fmt, media,
                                                 magic) -> None:
    client = await voice_client(tts="local")
    resp = await client.post(SPEECH, json={"text": "Hello there.", "format": fmt},
                             headers=auth_for())
    assert resp.status == 200, await resp.text()
    assert resp.headers["Content-Type"] == media
    audio = await resp.read()
    assert audio.startswith(magic)
    path = tmp_path / f"speech.{fmt}"
    path.write_bytes(audio)
    assert 0.3 < decoded_seconds(path) < 5


@needs_espeak
async def test_mp3_without_ffmpeg_is_415(voice_client, auth_for, monkeypatch,
                                         tmp_path) -> None:
    # A PATH holding only espeak-ng: ffmpeg is "not installed".
    only = tmp_path / "bin"
    only.mkdir()
    (only / "espeak-ng").symlink_to(shutil.which("espeak-ng") or "")
    monkeypatch.setenv("PATH", str(only))
    client = await voice_client(tts="local")
    resp = await client.post(SPEECH, json={"text": "Hello.", "format": "opus"},
                             headers=auth_for())
    assert resp.status == 415
    error = (await resp.json())["error"]
    assert error["code"] == "format_unavailable" and "ffmpeg" in error["message"]
    wav = await client.post(SPEECH, json={"text": "Hello."}, headers=auth_for())
    assert wav.status == 200 and (await wav.read()).startswith(b"RIFF")


async def test_openai_compatible_server_streams_its_audio(voice_client, auth_for,
                                                         openai_server) -> None:
    client = await voice_client(tts_model="tts-test", tts_voice="nova")  # auto: a key is set
    resp = await client.post(SPEECH, json={"text": "Speak this, please."}, headers=auth_for())
    assert resp.status == 200, await resp.text()
    assert resp.headers["Content-Type"] == "audio/wav"
    audio = await resp.read()
    channels, rate, _, data_bytes = riff_pcm(audio)
    assert channels == 1 and data_bytes == round(0.02 * 19 * rate) * 2
    [sent] = openai_server.speeches
    assert sent.input == "Speak this, please." and sent.response_format == "wav"
    assert sent.body["model"] == "tts-test" and sent.body["voice"] == "nova"


@needs_ffmpeg
async def test_openai_compatible_server_opus(voice_client, auth_for, openai_server,
                                             tmp_path) -> None:
    client = await voice_client(tts="openai")
    resp = await client.post(SPEECH, json={"text": "x" * 50, "format": "opus"},
                             headers=auth_for())
    assert resp.status == 200 and resp.headers["Content-Type"] == "audio/ogg"
    path = tmp_path / "remote.ogg"
    path.write_bytes(await resp.read())
    assert 0.9 < decoded_seconds(path) < 1.2  # the fake's tone: 20 ms a character


async def test_provider_failure_is_a_clean_502(voice_client, auth_for, openai_server) -> None:
    client = await voice_client(tts="openai")
    openai_server.fail(401, endpoint="speech", message="bad key sk-secret-123")
    resp = await client.post(SPEECH, json={"text": "Hello."}, headers=auth_for())
    assert resp.status == 502
    body = await resp.text()
    assert "tts_auth_failed" in body and "sk-secret" not in body


@pytest.mark.parametrize(("body", "status", "code"), [
    ({"text": "a" * 1001}, 400, "text_too_long"),
    ({"text": "   "}, 400, "invalid_body"),
    ({"text": "hi", "format": "flac"}, 400, "invalid_body"),
    ({"format": "wav"}, 400, "invalid_body"),
])
async def test_bad_requests(voice_client, auth_for, body, status, code) -> None:
    client = await voice_client(tts="local")
    resp = await client.post(SPEECH, json=body, headers=auth_for())
    assert resp.status == status
    assert (await resp.json())["error"]["code"] == code


async def test_off_is_503_and_auth_and_rate_limit_apply(voice_client, auth_for) -> None:
    client = await voice_client(tts="off", rate_limit_per_minute=2)
    assert (await client.post(SPEECH, json={"text": "hi"})).status == 401
    off = await client.post(SPEECH, json={"text": "hi"}, headers=auth_for())
    assert off.status == 503 and (await off.json())["error"]["code"] == "tts_disabled"
    await client.post(SPEECH, json={"text": "hi"}, headers=auth_for())
    # Counted before the body is read: even a broken body is refused once over the limit.
    limited = await client.post(SPEECH, data=b"not json", headers=auth_for())
    assert limited.status == 429 and "Retry-After" in limited.headers
