"""Any accepted recording to 16 kHz mono 16-bit PCM, the input the offline recogniser takes.

ffmpeg or sox (whichever is installed) decode every container, as asyncio subprocesses;
without them, WAV is still read in-process (PCM at any rate and channel count).

A small upload can decode to gigabytes (a WAV whose header says 100 Hz is resampled 160
times; silence compresses to almost nothing), so every decode is bounded (docs/security.md):
a header naming an absurd format is refused before decoding, the decoder is told to stop at
`MAX_SECONDS` (+ a little, so "too long" can be told from "just long enough"), and its
output is read in chunks and the decoder killed as soon as it passes that many bytes.
"""

from __future__ import annotations

import array
import asyncio
import contextlib
import io
import shutil
import sys
import wave

from voice_mcp.errors import TranscriptionFailed
from voice_mcp.services.stt.audio_format import WAV, AudioFormat

RATE = 16_000
DECODE_TIMEOUT_S = 30
MAX_SECONDS = 15  # longer recordings are refused: no spoken command takes this long
OVER_S = 0.5  # decoded past MAX_SECONDS, so a recording that is too long shows it
MIN_RATE, MAX_RATE, MAX_CHANNELS = 4_000, 384_000, 8  # what a WAV header may say
READ_BYTES = 64 * 1024
FEED_BYTES = 64 * 1024


def too_long() -> TranscriptionFailed:
    return TranscriptionFailed(f"Recordings longer than {MAX_SECONDS} s cannot be "
                               "transcribed offline.", code="audio_too_long", status=413)


def max_pcm_bytes() -> int:
    """The most PCM a decode may produce: MAX_SECONDS and a little more."""
    return int((MAX_SECONDS + OVER_S) * RATE) * 2


def _commands(fmt: AudioFormat) -> list[list[str]]:
    seconds = str(MAX_SECONDS + OVER_S)
    out = ["-t", seconds, "-ar", str(RATE), "-ac", "1", "-f", "s16le", "-acodec", "pcm_s16le",
           "pipe:1"]
    sox_out = ["-t", "raw", "-r", str(RATE), "-c", "1", "-b", "16", "-e", "signed-integer", "-",
               "trim", "0", seconds]
    commands = []
    if shutil.which("ffmpeg"):
        commands.append(["ffmpeg", "-nostdin", "-loglevel", "error", "-threads", "1",
                         "-i", "pipe:0", *out])
    if shutil.which("sox") and fmt.name in ("wav", "flac", "ogg", "mp3"):
        commands.append(["sox", "-t", fmt.extension, "-", *sox_out])
    return commands


def check_header(audio: bytes, fmt: AudioFormat) -> None:
    """Refuse a WAV whose header names a rate or channel count no microphone records (400).

    Other containers, and WAV encodings the `wave` module does not read, are left to the
    bounded decode."""
    if fmt != WAV:
        return
    try:
        with wave.open(io.BytesIO(audio)) as reader:
            rate, channels = reader.getframerate(), reader.getnchannels()
    except (wave.Error, EOFError):
        return
    if not MIN_RATE <= rate <= MAX_RATE or not 1 <= channels <= MAX_CHANNELS:
        raise TranscriptionFailed(
            f"The WAV header says {rate} Hz and {channels} channels: recordings must be "
            f"{MIN_RATE}-{MAX_RATE} Hz with 1-{MAX_CHANNELS} channels.",
            code="bad_audio", status=400)


async def to_pcm16(audio: bytes, fmt: AudioFormat) -> bytes:
    """Decode `audio` to 16 kHz mono s16le; TranscriptionFailed when nothing here can, or
    `audio_too_long` (413) as soon as the output passes MAX_SECONDS."""
    check_header(audio, fmt)
    for command in _commands(fmt):
        pcm = await _run(command, audio)
        if pcm is not None:
            return _within_cap(pcm)
    if fmt == WAV:
        return _within_cap(await asyncio.to_thread(wav_to_pcm16, audio))
    raise TranscriptionFailed(f"Cannot decode {fmt.name} audio here: install ffmpeg or sox, "
                              "or send WAV.", code="unsupported_audio", status=415)


def _within_cap(pcm: bytes) -> bytes:
    if len(pcm) > MAX_SECONDS * RATE * 2:
        raise too_long()
    return pcm


async def _run(command: list[str], audio: bytes) -> bytes | None:
    """The decoder's output, or None when it failed or timed out; killed past the cap."""
    process = await asyncio.create_subprocess_exec(
        *command, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL)
    feeder = asyncio.create_task(_feed(process.stdin, audio))
    try:
        async with asyncio.timeout(DECODE_TIMEOUT_S):
            out = await _read_capped(process.stdout, max_pcm_bytes())
            await process.wait()
    except TimeoutError:
        return None
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
        feeder.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await feeder
    return out if process.returncode == 0 and out else None


async def _feed(stdin: asyncio.StreamWriter | None, audio: bytes) -> None:
    """Write the recording to the decoder; a decoder that stopped reading ends it quietly."""
    assert stdin is not None
    with contextlib.suppress(BrokenPipeError, ConnectionResetError):
        for start in range(0, len(audio), FEED_BYTES):
            stdin.write(audio[start:start + FEED_BYTES])
            await stdin.drain()
        stdin.close()
        await stdin.wait_closed()


async def _read_capped(stdout: asyncio.StreamReader | None, cap: int) -> bytes:
    """Read the decoder's output until its end; `audio_too_long` once past `cap` bytes."""
    assert stdout is not None
    buffer = bytearray()
    while chunk := await stdout.read(READ_BYTES):
        buffer += chunk
        if len(buffer) > cap:
            raise too_long()
    return bytes(buffer)


def wav_bytes(pcm: bytes) -> bytes:
    """16 kHz mono s16le as a WAV file (a streamed utterance sent to a speech server)."""
    out = io.BytesIO()
    with wave.open(out, "wb") as writer:
        writer.setnchannels(1)
        writer.setsampwidth(2)
        writer.setframerate(RATE)
        writer.writeframes(pcm)
    return out.getvalue()


def wav_to_pcm16(audio: bytes) -> bytes:
    """A PCM WAV file to 16 kHz mono s16le, in pure Python (mix down, then resample)."""
    try:
        with wave.open(io.BytesIO(audio)) as reader:
            channels, width = reader.getnchannels(), reader.getsampwidth()
            rate = reader.getframerate()
            if reader.getnframes() > (MAX_SECONDS + OVER_S) * rate:
                raise too_long()
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
