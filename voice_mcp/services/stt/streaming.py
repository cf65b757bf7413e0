"""Recognise speech while it arrives: PCM in as the microphone sends it, partial text out, the
transcript when the user stops (the listen socket, docs/api.md).

Offline, pocketsphinx decodes incrementally, so at the end only the tail is left. What makes
the upload path accurate is a cepstral mean computed over the whole recording before the
search; streaming cannot wait for the whole, so the mean is computed over the first
`PRIME_MS` after speech starts (the voice activity detector finds the start, so leading
microphone noise does not pollute it), then the search runs from just before the start as
frames arrive. Measured on the spoken benchmark: live mean only 60/100, this prefix 91/100,
the upload path 93/100 (docs/performance.md).

With an OpenAI-compatible server the audio streams to its Realtime transcription session as
it arrives (stt/realtime.py) where it has one, else the utterance is buffered and sent as one
WAV at its end, through the same `Transcriber` as an upload.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from typing import Any, Protocol, TypeVar

import numpy as np

from voice_mcp.errors import TranscriptionFailed
from voice_mcp.services.stt.audio_format import WAV
from voice_mcp.services.stt.choose import NoSpeech, SpeechToText
from voice_mcp.services.stt.local import (
    GRAMMAR,
    MARGIN_BYTES,
    Decoders,
    LocalTranscriber,
    _check_deadline,
    _prime_cmn,
    dither,
    open_vocabulary,
)
from voice_mcp.services.stt.openai import Transcriber
from voice_mcp.services.stt.pcm import RATE, wav_bytes
from voice_mcp.services.stt.phrases import PHRASES, with_phrases
from voice_mcp.services.stt.realtime import RealtimeStreaming, prompt_hint

T = TypeVar("T")
PRIME_MS = 500  # the cepstral mean is primed on this much speech (500 and 1000: 91/100)
# Partial text starts on a mean primed on this much speech, then the search starts again on
# the PRIME_MS one: the first partial as soon as a word is heard, the accuracy of 500 ms.
EARLY_MS = 100
PREROLL_MS = 100  # searched from this long before the detected start (its first sound)
BYTES_PER_MS = RATE * 2 // 1000


class StreamingRecognizer(Protocol):
    """One utterance: `feed` while it lasts, then `finish`; `close` always, to give back the
    recogniser. `onset` is where speech began (a byte offset into what was fed), if known."""

    async def feed(self, pcm: bytes, onset: int | None) -> str | None: ...

    async def finish(self, onset: int | None) -> str: ...

    async def close(self) -> None: ...


class StreamingSpeech(Protocol):
    """Opens a recogniser per utterance; `warm` loads what it needs before the first one.
    `phrases`: what the utterance is made of (an answer to a service's question), which an
    offline recogniser listens for alone (stt/phrases.py); others ignore it."""

    def open(self, user_id: str, phrases: list[str] | None = None) -> StreamingRecognizer: ...

    async def warm(self) -> None: ...


class DecoderSource(Protocol):
    """What the streaming recogniser borrows from the offline one (stt/local.py)."""

    budget_s: float

    def accept(self, text: str) -> bool: ...

    def lease(self, user_id: str = "") -> AbstractAsyncContextManager[Decoders]: ...

    async def warm(self) -> None: ...


class LocalStreaming:
    """pocketsphinx, decoding as frames arrive (this module's docstring)."""

    def __init__(self, source: DecoderSource) -> None:
        self._source = source

    def open(self, user_id: str, phrases: list[str] | None = None) -> StreamingRecognizer:
        return LocalStream(self._source, user_id, phrases)

    async def warm(self) -> None:
        await self._source.warm()


class LocalStream:
    """One utterance on a leased decoder; every decoder call runs in a worker thread."""

    def __init__(self, source: DecoderSource, user_id: str,
                 phrases: list[str] | None = None) -> None:
        self._source = source
        self._user_id = user_id
        self._phrases = phrases
        self._answer: Any | None = None  # the decoder searching PHRASES, when it loaded
        self._lease = contextlib.AsyncExitStack()
        self._decoders: Decoders | None = None
        self._rng = np.random.default_rng(0)  # one dither stream, as over a whole upload
        self._audio = bytearray()  # dithered, as received
        self._searched: int | None = None  # bytes of `_audio` the search has taken
        self._primed_ms = 0  # the speech the search's mean was primed on
        self._partial = ""
        self._busy: asyncio.Future[Any] | None = None

    async def feed(self, pcm: bytes, onset: int | None) -> str | None:
        """Add `pcm`; decode once speech has gone on for PRIME_MS. New partial text or None."""
        self._audio += dither(pcm, self._rng)
        if self._searched is None and (onset is None or
                                       len(self._audio) < onset + EARLY_MS * BYTES_PER_MS):
            return None
        decoders = await self._leased()
        return await self._in_thread(self._step, decoders, onset or 0)

    async def finish(self, onset: int | None) -> str:
        """Decode the tail; open vocabulary over the whole when the templates refuse it."""
        decoders = await self._leased()
        return await self._in_thread(self._finish, decoders, onset or 0)

    async def close(self) -> None:
        """Give the decoder back, once no thread uses it and its utterance is closed."""
        if self._busy is not None:
            await asyncio.wait([self._busy])
        if self._decoders is not None and self._searched is not None:
            with contextlib.suppress(RuntimeError):
                await asyncio.to_thread(self._search(self._decoders)[0].end_utt)
        self._decoders = None
        await self._lease.aclose()

    async def _leased(self) -> Decoders:
        if self._decoders is None:
            self._decoders = await self._lease.enter_async_context(
                self._source.lease(self._user_id))
            if self._phrases:  # under a millisecond for a question's few phrases
                self._answer = with_phrases(self._decoders, self._phrases)
        return self._decoders

    async def _in_thread(self, work: Callable[..., T], *args: Any) -> T:
        """Run `work` in a thread; a cancelled caller leaves it to finish (see `close`)."""
        self._busy = asyncio.ensure_future(asyncio.to_thread(work, *args))
        return await asyncio.shield(self._busy)

    def _search(self, decoders: Decoders) -> tuple[Any, str]:
        if self._answer is not None:
            return self._answer, PHRASES
        if decoders.grammar is not None:
            return decoders.grammar, GRAMMAR
        return decoders.open, decoders.default_search

    def _start(self, decoders: Decoders, onset: int, deadline: float, final: bool) -> None:
        """(Re)start the search: the mean primed on the start of speech (EARLY_MS of it,
        then PRIME_MS), the search from just before it."""
        spoken_ms = (len(self._audio) - onset) // BYTES_PER_MS
        prime_ms = min(spoken_ms, PRIME_MS)
        if self._searched is not None and (self._primed_ms >= prime_ms or
                                           (prime_ms < PRIME_MS and not final)):
            return
        decoder, search = self._search(decoders)
        if self._searched is not None:
            decoder.end_utt()
        start = max(0, onset - PREROLL_MS * BYTES_PER_MS)
        prefix = bytes(self._audio[start:onset + prime_ms * BYTES_PER_MS])
        _prime_cmn(decoder, _LEAD + prefix, deadline)
        decoder.activate_search(search)
        decoder.start_utt()
        decoder.process_raw(_LEAD, False, False)
        self._searched, self._primed_ms = start, prime_ms

    def _step(self, decoders: Decoders, onset: int, final: bool = False) -> str | None:
        self._start(decoders, onset, time.monotonic() + self._source.budget_s, final)
        assert self._searched is not None
        decoder, _ = self._search(decoders)
        if len(self._audio) > self._searched:  # pocketsphinx refuses an empty buffer
            decoder.process_raw(bytes(self._audio[self._searched:]), False, False)
            self._searched = len(self._audio)
        hyp = decoder.hyp()
        text = str(hyp.hypstr).strip() if hyp is not None else ""
        if not text or text == self._partial:
            return None
        self._partial = text
        return text

    def _finish(self, decoders: Decoders, onset: int) -> str:
        deadline = time.monotonic() + self._source.budget_s
        self._step(decoders, onset, final=True)
        decoder, _ = self._search(decoders)
        decoder.process_raw(_TAIL, False, False)  # the grammar's final state needs silence
        decoder.end_utt()
        self._searched = None
        _check_deadline(deadline)
        hyp = decoder.hyp()
        text = str(hyp.hypstr).strip() if hyp is not None else ""
        if self._answer is not None:
            accepted = bool(text)  # an answer's phrases: whatever they heard
        else:
            accepted = decoders.grammar is None or bool(text and self._source.accept(text))
        if accepted:
            return text
        return open_vocabulary(decoders, _LEAD + bytes(self._audio) + _TAIL, deadline)


_LEAD = dither(bytes(MARGIN_BYTES))  # the silence margins of the upload path
_TAIL = _LEAD


class BufferedStreaming:
    """An OpenAI-compatible server: the utterance is sent as one WAV when it ends."""

    def __init__(self, transcriber: SpeechToText) -> None:
        self._transcriber = transcriber

    def open(self, user_id: str, phrases: list[str] | None = None) -> StreamingRecognizer:
        return BufferedStream(self._transcriber, user_id, prompt_hint(phrases))

    async def warm(self) -> None:
        """Nothing to load: the server recognises."""


class BufferedStream:
    """Collect the PCM; no partial text. `hint`: an answer's words, as the server's prompt."""

    def __init__(self, transcriber: SpeechToText, user_id: str, hint: str = "") -> None:
        self._transcriber = transcriber
        self._user_id = user_id
        self._hint = hint
        self._audio = bytearray()

    async def feed(self, pcm: bytes, onset: int | None) -> str | None:
        self._audio += pcm
        return None

    async def finish(self, onset: int | None) -> str:
        return await self._transcriber.transcribe(wav_bytes(bytes(self._audio)), WAV,
                                                 self._user_id, self._hint)

    async def close(self) -> None:
        self._audio.clear()


class StreamingOff:
    """`VOICE_MCP_STT=off`: the socket is refused with the upload's error."""

    def open(self, user_id: str, phrases: list[str] | None = None) -> StreamingRecognizer:
        raise TranscriptionFailed("Speech input is turned off (VOICE_MCP_STT=off).",
                                  code="stt_not_configured", status=503)

    async def warm(self) -> None:
        """Nothing to load."""


def make_streaming(transcriber: SpeechToText) -> StreamingSpeech:
    """The streaming recogniser for the configured one (stt/choose.py)."""
    if isinstance(transcriber, LocalTranscriber):
        return LocalStreaming(transcriber)
    if isinstance(transcriber, NoSpeech):
        return StreamingOff()
    if isinstance(transcriber, Transcriber) and transcriber.streams:
        return RealtimeStreaming(transcriber.realtime_session, transcriber.model, transcriber,
                                 transcriber.timeout_s)
    return BufferedStreaming(transcriber)
