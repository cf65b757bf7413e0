"""A recording cannot cost more than a short command: bounded decodes, a shared decoder pool,
and bounds per user (docs/security.md, "Offline speech")."""

from __future__ import annotations

import asyncio
import io
import shutil
import subprocess
import threading
import wave
from pathlib import Path
from typing import Any

import pytest

from voice_mcp.errors import TranscriptionFailed
from voice_mcp.services.stt import pcm
from voice_mcp.services.stt.audio_format import WAV
from voice_mcp.services.stt.local import LocalTranscriber
from voice_mcp.services.stt.pcm import MAX_SECONDS, RATE, check_header, to_pcm16

WAIT_S = 120  # generous: proves "served", not a speed


def wav(rate: int, seconds: float, width: int = 1, channels: int = 1) -> bytes:
    """A WAV of silence whose header says `rate` Hz (8-bit silence is 0x80)."""
    frames = int(rate * seconds)
    fill = b"\x80" if width == 1 else b"\x00" * width
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as writer:
        writer.setnchannels(channels)
        writer.setsampwidth(width)
        writer.setframerate(rate)
        writer.writeframes(fill * frames * channels)
    return buffer.getvalue()


def bomb() -> bytes:
    """The review's decompression bomb: 1 MB of 8-bit WAV said to be 100 Hz (10,000 s)."""
    return wav(100, 10_000)


def test_a_header_naming_an_absurd_rate_is_refused_before_decoding() -> None:
    with pytest.raises(TranscriptionFailed) as caught:
        check_header(bomb(), WAV)
    assert (caught.value.code, caught.value.status) == ("bad_audio", 400)
    check_header(wav(8_000, 1), WAV)  # a telephone's rate is fine


async def test_the_100_hz_bomb_is_refused_without_decoding(monkeypatch) -> None:
    async def must_not_run(*_args: Any) -> bytes | None:
        raise AssertionError("the decoder ran")

    monkeypatch.setattr(pcm, "_run", must_not_run)
    with pytest.raises(TranscriptionFailed) as caught:
        await to_pcm16(bomb(), WAV)
    assert caught.value.code == "bad_audio"


@pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="ffmpeg is not installed")
async def test_a_long_recording_is_stopped_at_the_cap_not_decoded_whole(monkeypatch) -> None:
    """Ten minutes of 8 kHz audio (a plausible header): the decoder's output is read up to
    the cap and no further."""
    read: list[int] = []
    real = pcm._read_capped

    async def counting(stdout: Any, cap: int) -> bytes:
        try:
            out = await real(stdout, cap)
        except TranscriptionFailed:
            read.append(cap)
            raise
        read.append(len(out))
        return out

    monkeypatch.setattr(pcm, "_read_capped", counting)
    with pytest.raises(TranscriptionFailed) as caught:
        await to_pcm16(wav(8_000, 600), WAV)
    assert (caught.value.code, caught.value.status) == ("audio_too_long", 413)
    # Read at most the cap: ffmpeg stopped at MAX_SECONDS + a little (not 600 s = 19 MB).
    assert read and max(read) <= pcm.max_pcm_bytes() < 600 * RATE * 2 / 30


@pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="ffmpeg is not installed")
async def test_a_decoder_that_runs_past_the_cap_is_killed(tmp_path: Path) -> None:
    """A decoder ignoring its duration limit is killed once its output passes the cap."""
    noise = ["ffmpeg", "-nostdin", "-loglevel", "error", "-f", "lavfi", "-i",
             "anullsrc=r=16000:cl=mono", "-f", "s16le", "pipe:1"]  # endless
    with pytest.raises(TranscriptionFailed) as caught:
        await pcm._run(noise, b"")
    assert caught.value.code == "audio_too_long"
    found = subprocess.run(["pgrep", "-f", "anullsrc=r=16000:cl=mono"], capture_output=True,
                           check=False)
    assert found.stdout == b""  # nothing left running


def test_the_in_process_reader_refuses_a_long_wav_from_its_header() -> None:
    with pytest.raises(TranscriptionFailed) as caught:
        pcm.wav_to_pcm16(wav(RATE, MAX_SECONDS + 2, width=2))
    assert caught.value.code == "audio_too_long"


def _speech(tmp_path: Path, text: str) -> bytes:
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng is not installed")
    path = tmp_path / f"{len(text)}.wav"
    subprocess.run(["espeak-ng", "-w", str(path), text], check=True)
    return path.read_bytes()


class Gate:
    """Holds the first recogniser run of one user until released (a slow recording)."""

    def __init__(self, transcriber: LocalTranscriber) -> None:
        self.entered = threading.Event()
        self.release = threading.Event()
        self._real = transcriber._decode
        self._used = False

    def __call__(self, *args: Any) -> str:
        if not self._used:
            self._used = True
            self.entered.set()
            self.release.wait(WAIT_S)
        return str(self._real(*args))


async def test_one_users_long_recording_leaves_a_decoder_for_others(tmp_path) -> None:
    transcriber = LocalTranscriber(lambda _known: None, lambda _: True, budget_s=300)
    gate = Gate(transcriber)
    transcriber._decode = gate  # type: ignore[method-assign,assignment]
    audio = _speech(tmp_path, "hello world")
    slow = asyncio.create_task(transcriber.transcribe(audio, WAV, "alice"))
    try:
        await asyncio.wait_for(asyncio.to_thread(gate.entered.wait, WAIT_S), WAIT_S)
        second = asyncio.create_task(transcriber.transcribe(audio, WAV, "alice"))
        async with asyncio.timeout(WAIT_S):  # served while alice holds a decoder
            heard = await transcriber.transcribe(audio, WAV, "bob")
        assert heard and not slow.done()
        assert not second.done()  # alice's second waits for her first, not for a decoder
        with pytest.raises(TranscriptionFailed) as caught:  # a third is past her cap
            await transcriber.transcribe(audio, WAV, "alice")
        assert (caught.value.code, caught.value.status) == ("too_many_recordings", 429)
    finally:
        gate.release.set()
    assert await slow == heard and await second == heard
    assert transcriber._pool.built == 2  # never more than the pool's size
