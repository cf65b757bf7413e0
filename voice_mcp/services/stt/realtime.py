"""Speech streamed to an OpenAI-compatible Realtime transcription session while the user is
still speaking (docs/streaming.md, "A speech server"): the audio is on the server by the time
they stop, so only the commit and the last words are left to wait for.

The session is opened through the openai SDK (`realtime.connect`, `intent=transcription`),
with no server-side turn detection: the listen socket decides where an utterance ends (push
to talk or its own voice-activity detector) and commits then. The Realtime API takes 24 kHz
PCM; the socket's 16 kHz is resampled on the way. Everything the server sends is untrusted
JSON: only string fields of the events named below are read.

Where the server has no Realtime endpoint, or the session fails at any point, the utterance
(kept meanwhile) goes to `/audio/transcriptions` as one WAV, as `BufferedStream` sends it:
streaming is an optimisation, never a new way to fail.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import logging
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from voice_mcp.errors import TranscriptionFailed
from voice_mcp.services.stt.audio_format import WAV
from voice_mcp.services.stt.pcm import wav_bytes

if TYPE_CHECKING:
    from voice_mcp.services.stt.choose import SpeechToText

log = logging.getLogger(__name__)

REALTIME_RATE = 24_000
OPEN_TIMEOUT_S = 5.0
MAX_EVENT_BYTES = 1 << 20  # a transcription event is small; a bigger one ends the session
MAX_HINT_CHARS = 1000
MAX_PARTIAL_CHARS = 2000  # partial text shown at most (the server decides how much it sends)
DELTA = "conversation.item.input_audio_transcription.delta"
COMPLETED = "conversation.item.input_audio_transcription.completed"
FAILED = "conversation.item.input_audio_transcription.failed"


class RealtimeConnection(Protocol):
    """What is used of the SDK's `AsyncRealtimeConnection`."""

    async def send(self, event: Any) -> None: ...

    async def recv_bytes(self) -> bytes: ...

    async def close(self) -> None: ...


class Connect(Protocol):
    """Opens one transcription session (the SDK call, bound to the configured server)."""

    async def __call__(self) -> RealtimeConnection: ...


class Upsampler:
    """16 kHz to 24 kHz 16-bit mono PCM, chunk by chunk: linear interpolation, 3 out for 2 in,
    continuous across chunks (the last input sample is kept for the next one)."""

    def __init__(self) -> None:
        self._tail = np.zeros(0, dtype=np.float64)  # the last sample seen, at index `_base`
        self._base = 0
        self._made = 0  # output samples made so far
        self._odd = b""  # half a sample, waiting for its other byte

    def feed(self, pcm: bytes) -> bytes:
        pcm, self._odd = self._odd + pcm, b""
        if len(pcm) % 2:
            pcm, self._odd = pcm[:-1], pcm[-1:]
        if not pcm:
            return b""
        x = np.concatenate([self._tail, np.frombuffer(pcm, "<i2").astype(np.float64)])
        last = self._base + len(x) - 1  # absolute index of the newest input sample
        end = last * 3 // 2 + 1  # outputs whose source position is at or before it
        wanted = np.arange(self._made, end) * (2 / 3) - self._base
        out = np.interp(wanted, np.arange(len(x)), x)
        self._made, self._tail, self._base = end, x[-1:], last
        return bytes(np.clip(np.rint(out), -32768, 32767).astype("<i2").tobytes())


def prompt_hint(phrases: list[str] | None) -> str:
    """An answer's expected words as a transcription prompt (bounded: prompts are short)."""
    return ", ".join(phrases or [])[:MAX_HINT_CHARS]


def session_update(model: str, phrases: list[str] | None) -> dict[str, Any]:
    """The transcription session: 24 kHz PCM in, `model`, no turn detection (we commit)."""
    transcription: dict[str, Any] = {"model": model}
    if phrases:  # an answer to a service's question: its expected words, as a hint
        transcription["prompt"] = prompt_hint(phrases)
    return {"type": "session.update", "session": {
        "type": "transcription",
        "audio": {"input": {"format": {"type": "audio/pcm", "rate": REALTIME_RATE},
                            "transcription": transcription, "turn_detection": None}}}}


class RealtimeStreaming:
    """Opens a Realtime session per utterance; falls back to `fallback` (one WAV upload)."""

    def __init__(self, connect: Connect, model: str, fallback: SpeechToText,
                 timeout_s: float) -> None:
        self.connect = connect
        self.model = model
        self.fallback = fallback
        self.timeout_s = timeout_s

    def open(self, user_id: str, phrases: list[str] | None = None) -> RealtimeStream:
        return RealtimeStream(self, user_id, phrases)

    async def warm(self) -> None:
        """Nothing to load: the server recognises."""


class RealtimeStream:
    """One utterance: appended as it arrives, committed at its end, partial text from the
    server's deltas; the PCM kept for the fallback."""

    def __init__(self, owner: RealtimeStreaming, user_id: str, phrases: list[str] | None
                 ) -> None:
        self._owner = owner
        self._user_id = user_id
        self._phrases = phrases
        self._audio = bytearray()
        self._resample = Upsampler()
        self._session: asyncio.Task[RealtimeConnection] | None = None
        self._sent = 0  # bytes of `_audio` appended to the session
        self._reader: asyncio.Task[str] | None = None
        self._partial = ""
        self._shown = ""
        self._failed = False

    async def feed(self, pcm: bytes, onset: int | None) -> str | None:
        """Keep `pcm`, append what the session can take; new partial text or None."""
        self._audio += pcm
        if self._session is None:
            self._session = asyncio.create_task(self._open())
        if not self._failed and self._session.done():
            await self._append()
        if self._partial != self._shown:
            self._shown = self._partial
            return self._partial
        return None

    async def finish(self, onset: int | None) -> str:
        """Commit and wait for the transcript; when the session failed, the whole utterance
        uploaded. A server that stays silent past the time budget is a retryable failure (an
        upload to the same server would most likely wait as long)."""
        timeout_s = self._owner.timeout_s
        try:
            async with asyncio.timeout(timeout_s):
                return await self._commit()
        except TimeoutError:
            raise TranscriptionFailed(f"Transcription did not finish within {timeout_s:g} s.",
                                      retryable=True) from None
        except Exception as err:  # noqa: BLE001 - any failure of the session: upload instead
            log.warning("realtime transcription failed (%s); sending the utterance whole",
                        type(err).__name__)
            self._failed = True
        return await self._owner.fallback.transcribe(wav_bytes(bytes(self._audio)), WAV,
                                                     self._user_id, prompt_hint(self._phrases))

    async def _commit(self) -> str:
        if self._session is None:
            self._session = asyncio.create_task(self._open())
        connection = await self._session
        await self._append()
        if self._failed:
            raise RealtimeFailed("append")
        await connection.send({"type": "input_audio_buffer.commit"})
        assert self._reader is not None
        return (await self._reader).strip()

    async def close(self) -> None:
        """End the session; a failure it had was already handled (`finish` uploaded)."""
        for task in (self._reader, self._session):
            if task is not None and not task.done():
                task.cancel()
            elif task is not None and not task.cancelled():
                task.exception()  # retrieved, so asyncio does not log it as forgotten
        session = self._session
        if session is not None and session.done() and not session.cancelled() \
                and session.exception() is None:
            with contextlib.suppress(Exception):
                await session.result().close()
        self._audio.clear()

    async def _open(self) -> RealtimeConnection:
        async with asyncio.timeout(OPEN_TIMEOUT_S):
            connection = await self._owner.connect()
        await connection.send(session_update(self._owner.model, self._phrases))
        self._reader = asyncio.create_task(self._read(connection))
        return connection

    async def _append(self) -> None:
        """Send what has arrived since the last append (resampled, base64, as the API wants)."""
        assert self._session is not None
        try:
            connection = self._session.result()
            if self._sent < len(self._audio):
                chunk, self._sent = bytes(self._audio[self._sent:]), len(self._audio)
                audio = base64.b64encode(self._resample.feed(chunk)).decode("ascii")
                await connection.send({"type": "input_audio_buffer.append", "audio": audio})
        except Exception:  # noqa: BLE001 - the session is gone: `finish` uploads instead
            self._failed = True

    async def _read(self, connection: RealtimeConnection) -> str:
        """Gather deltas as partial text until the transcript; an error event ends it."""
        while True:
            event = _event(await connection.recv_bytes())
            kind = event.get("type")
            text = event.get("transcript" if kind == COMPLETED else "delta")
            if kind == COMPLETED and isinstance(text, str):
                return text
            if kind == DELTA and isinstance(text, str):
                self._partial = (self._partial + text)[:MAX_PARTIAL_CHARS]
            elif kind in (FAILED, "error"):
                raise RealtimeFailed(str(kind))


def _event(raw: bytes) -> dict[str, Any]:
    """One server event as a JSON object, or the session ends (too big, not JSON)."""
    if len(raw) > MAX_EVENT_BYTES:
        raise RealtimeFailed("oversized event")
    try:
        event = json.loads(raw)
    except ValueError:
        raise RealtimeFailed("unreadable event") from None
    if not isinstance(event, dict):
        raise RealtimeFailed("unreadable event")
    return event


class RealtimeFailed(Exception):
    """The server reported a failure (its own text is not kept: it is untrusted)."""
