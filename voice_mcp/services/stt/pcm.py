"""Any accepted recording to 16 kHz mono 16-bit PCM, the input the offline recogniser takes.

ffmpeg or sox (whichever is installed) decode every container, as asyncio subprocesses;
without them, WAV is still read in-process (PCM at any rate and channel count).
"""

from __future__ import annotations

import array
import asyncio
import io
import shutil
import sys
import wave

from voice_mcp.errors import TranscriptionFailed
from voice_mcp.services.stt.audio_format import WAV, AudioFormat

RATE = 16_000
DECODE_TIMEOUT_S = 30


def _commands(fmt: AudioFormat) -> list[list[str]]:
    out = ["-ar", str(RATE), "-ac", "1", "-f", "s16le", "-acodec", "pcm_s16le", "pipe:1"]
    sox_out = ["-t", "raw", "-r", str(RATE), "-c", "1", "-b", "16", "-e", "signed-integer", "-"]
    commands = []
    if shutil.which("ffmpeg"):
        commands.append(["ffmpeg", "-nostdin", "-loglevel", "error", "-i", "pipe:0", *out])
    if shutil.which("sox") and fmt.name in ("wav", "flac", "ogg", "mp3"):
        commands.append(["sox", "-t", fmt.extension, "-", *sox_out])
    return commands


async def to_pcm16(audio: bytes, fmt: AudioFormat) -> bytes:
    """Decode `audio` to 16 kHz mono s16le; TranscriptionFailed when nothing here can."""
    for command in _commands(fmt):
        pcm = await _run(command, audio)
        if pcm is not None:
            return pcm
    if fmt == WAV:
        return await asyncio.to_thread(wav_to_pcm16, audio)
    raise TranscriptionFailed(f"Cannot decode {fmt.name} audio here: install ffmpeg or sox, "
                              "or send WAV.", code="unsupported_audio", status=415)


async def _run(command: list[str], audio: bytes) -> bytes | None:
    process = await asyncio.create_subprocess_exec(
        *command, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL)
    try:
        async with asyncio.timeout(DECODE_TIMEOUT_S):
            out, _ = await process.communicate(audio)
    except TimeoutError:
        process.kill()
        await process.wait()
        return None
    return out if process.returncode == 0 and out else None


def wav_to_pcm16(audio: bytes) -> bytes:
    """A PCM WAV file to 16 kHz mono s16le, in pure Python (mix down, then resample)."""
    try:
        with wave.open(io.BytesIO(audio)) as reader:
            channels, width = reader.getnchannels(), reader.getsampwidth()
            rate = reader.getframerate()
            frames = reader.readframes(reader.getnframes())
    except (wave.Error, EOFError) as err:
        raise TranscriptionFailed("The WAV file could not be read.", code="bad_audio",
                                  status=400) from err
    if width != 2:
        raise TranscriptionFailed("Only 16-bit WAV can be read without ffmpeg or sox.",
                                  code="unsupported_audio", status=415)
    samples = array.array("h", frames)
    if sys.byteorder == "big":
        samples.byteswap()
    mono = [sum(samples[i:i + channels]) // channels for i in range(0, len(samples), channels)] \
        if channels > 1 else samples.tolist()
    out = array.array("h", _resample(mono, rate))
    if sys.byteorder == "big":
        out.byteswap()
    return out.tobytes()


def _resample(samples: list[int], rate: int) -> list[int]:
    """Linear interpolation to RATE (speech only needs the band under 8 kHz)."""
    if rate == RATE or not samples:
        return samples
    step = rate / RATE
    count = int(len(samples) / step)
    last = len(samples) - 1
    out = []
    for n in range(count):
        pos = n * step
        i = int(pos)
        frac = pos - i
        nxt = samples[min(i + 1, last)]
        out.append(int(samples[i] + (nxt - samples[i]) * frac))
    return out
