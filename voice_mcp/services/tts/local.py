"""Local speech with espeak-ng, re-encoded by ffmpeg for mp3 and opus, streamed as produced.

espeak-ng writes a WAV whose RIFF sizes say "unknown length" when its output is a pipe, which
players and ffmpeg accept, so the first bytes can leave before the last sample is made.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import time
from collections.abc import AsyncGenerator
from typing import Final

from voice_mcp.errors import AppError, ServiceUnavailable, SpeechFailed, UnsupportedMediaType
from voice_mcp.services.tts.formats import SpeechFormat

log = logging.getLogger(__name__)

CHUNK_BYTES: Final = 8192
# Codec and container per format; -flush_packets makes ffmpeg hand each packet on at once.
_ENCODERS: Final = {
    SpeechFormat.MP3: ["-c:a", "libmp3lame", "-b:a", "64k", "-f", "mp3"],
    SpeechFormat.OPUS: ["-c:a", "libopus", "-b:a", "32k", "-f", "ogg"],
}


def espeak_command() -> list[str]:
    """espeak-ng reading UTF-8 text from stdin (never argv: text may start with '-')."""
    program = shutil.which("espeak-ng")
    if program is None:
        raise ServiceUnavailable(
            "Local speech needs espeak-ng, which is not installed (apt-get install espeak-ng, "
            "or run `make run`).", code="tts_unavailable", retryable=False)
    return [program, "--stdin", "-b", "1", "--stdout"]


def ffmpeg_command(fmt: SpeechFormat) -> list[str]:
    """ffmpeg turning a WAV stream on stdin into `fmt` on stdout; 415 when ffmpeg is missing."""
    program = shutil.which("ffmpeg")
    if program is None:
        raise UnsupportedMediaType(
            f"format '{fmt}' needs ffmpeg on the server, which is not installed; ask for 'wav'.",
            code="format_unavailable")
    return [program, "-hide_banner", "-loglevel", "error", "-f", "wav", "-i", "pipe:0",
            *_ENCODERS[fmt], "-flush_packets", "1", "pipe:1"]


class LocalSpeech:
    """espeak-ng on this machine; nothing to open or close."""

    def __init__(self, timeout_s: float) -> None:
        self.timeout_s = timeout_s

    def refusal(self) -> AppError | None:
        return None

    def stream(self, text: str, fmt: SpeechFormat) -> AsyncGenerator[bytes]:
        return local_speech(text, fmt, self.timeout_s)

    async def close(self) -> None:
        return None


async def local_speech(text: str, fmt: SpeechFormat, timeout_s: float) -> AsyncGenerator[bytes]:
    """Yield the audio of `text` chunk by chunk; the processes die with the generator."""
    espeak = espeak_command()
    encoder = ffmpeg_command(fmt) if fmt is not SpeechFormat.WAV else None
    processes = await _spawn(espeak, encoder)
    deadline = time.monotonic() + timeout_s
    try:
        writer = processes[0].stdin
        assert writer is not None
        writer.write(text.encode())
        await writer.drain()
        writer.close()
        reader = processes[-1].stdout
        assert reader is not None
        produced = 0
        while chunk := await _read(reader, deadline):
            produced += len(chunk)
            yield chunk
        if produced == 0 or await processes[0].wait() != 0:
            raise SpeechFailed("Local speech synthesis produced no audio.")
    finally:
        await _stop(processes)


async def _spawn(espeak: list[str],
                 encoder: list[str] | None) -> list[asyncio.subprocess.Process]:
    """Start espeak-ng, piped into ffmpeg when re-encoding (no shell)."""
    pipe, null = asyncio.subprocess.PIPE, asyncio.subprocess.DEVNULL
    if encoder is None:
        return [await asyncio.create_subprocess_exec(*espeak, stdin=pipe, stdout=pipe,
                                                     stderr=null)]
    read_end, write_end = os.pipe()
    try:
        first = await asyncio.create_subprocess_exec(*espeak, stdin=pipe, stdout=write_end,
                                                     stderr=null)
        try:
            second = await asyncio.create_subprocess_exec(*encoder, stdin=read_end, stdout=pipe,
                                                          stderr=null)
        except BaseException:
            await _stop([first])
            raise
    finally:
        os.close(read_end)
        os.close(write_end)
    return [first, second]


async def _read(reader: asyncio.StreamReader, deadline: float) -> bytes:
    remaining = deadline - time.monotonic()
    try:
        async with asyncio.timeout(max(remaining, 0.001)):
            return await reader.read(CHUNK_BYTES)
    except TimeoutError:
        raise SpeechFailed("Local speech synthesis took too long.", retryable=True) from None


async def _stop(processes: list[asyncio.subprocess.Process]) -> None:
    """Kill what still runs (a client that left) and reap every process."""
    for process in processes:
        if process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
    for process in processes:
        with contextlib.suppress(ProcessLookupError):
            await process.wait()
