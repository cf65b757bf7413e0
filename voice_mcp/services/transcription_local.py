"""Offline speech to text with pocketsphinx, whose English model ships in its PyPI wheel.

The decoder first searches a grammar of the sentence templates (docs/local-intents.md), so
in-domain commands are heard as the words the templates know; when that finds nothing the
templates accept, the open-vocabulary language model decodes the same audio.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from voice_mcp.errors import TranscriptionFailed
from voice_mcp.services.audio_format import AudioFormat
from voice_mcp.services.lexicon import Lexicon
from voice_mcp.services.pcm import RATE, to_pcm16

log = logging.getLogger(__name__)
# Builds the template grammar, given which words the recogniser can hear.
GrammarSource = Callable[[Callable[[str], bool]], str | None]
GRAMMAR = "templates"
MAX_SECONDS = 15  # longer recordings are refused: no spoken command takes this long
MAX_ACTIVE_HMMS = 3000  # caps the search per frame, so a large grammar cannot run away
CHUNK_BYTES = RATE * 2 // 20  # 50 ms of audio between deadline checks
DITHER = 100.0  # noise floor added to every sample (of 32768: about -50 dBFS)
MARGIN_BYTES = RATE * 2 * 3 // 10  # 0.3 s of silence around the recording
GRAMMAR_RTF_LIMIT = 3.0  # the grammar pass may take this many times the recording's length


def model_dir() -> Path:
    """The wheel's English model directory."""
    import pocketsphinx

    return Path(pocketsphinx.get_model_path()) / "en-us"


def shipped_lexicon() -> Lexicon:
    """The wheel's pronunciation dictionary, with spelled acronyms on demand."""
    return Lexicon(model_dir() / "cmudict-en-us.dict")


class LocalTranscriber:
    """pocketsphinx in a worker thread; one utterance at a time (a decoder is not re-entrant)."""

    configured = True

    def __init__(self, grammar: GrammarSource, accept: Callable[[str], bool],
                 budget_s: float = 30.0) -> None:
        self._grammar = grammar
        self._budget_s = budget_s
        self._accept = accept
        self._lock = asyncio.Lock()
        self._decoder: Any = None
        self._default_search = "_default"
        self._has_grammar = False

    def _load(self) -> Any:
        """Build the decoder (about a second, plus the grammar); done once, in a thread."""
        from pocketsphinx import Decoder

        started = time.perf_counter()
        model = model_dir()
        decoder = Decoder(hmm=str(model / "en-us"), lm=str(model / "en-us.lm.bin"),
                          dict=str(model / "cmudict-en-us.dict"), samprate=RATE,
                          maxhmmpf=MAX_ACTIVE_HMMS, loglevel="FATAL")
        self._default_search = decoder.current_search()
        lexicon = shipped_lexicon()
        grammar = self._grammar(lexicon.knows)
        for word, phones in lexicon.added.items():
            decoder.add_word(word, phones, False)
        if grammar:
            try:
                decoder.add_jsgf_string(GRAMMAR, grammar)
                self._has_grammar = True
            except ValueError:
                log.warning("the template grammar did not load; using open vocabulary only")
        log.info("offline speech recogniser ready in %.1f s", time.perf_counter() - started)
        return decoder

    async def warm(self) -> None:
        """Load the model now rather than on the first recording."""
        async with self._lock:
            if self._decoder is None:
                self._decoder = await asyncio.to_thread(self._load)

    async def transcribe(self, audio: bytes, fmt: AudioFormat) -> str:
        """The transcript of one recording (empty when nothing was recognised)."""
        pcm = await to_pcm16(audio, fmt)
        if len(pcm) > MAX_SECONDS * RATE * 2:
            raise TranscriptionFailed(f"Recordings longer than {MAX_SECONDS} s cannot be "
                                      "transcribed offline.", code="audio_too_long", status=413)
        await self.warm()
        async with self._lock:
            return await asyncio.to_thread(self._decode, dither(with_margins(pcm)))

    def _decode(self, pcm: bytes) -> str:
        """The grammar's words when the templates accept them, else open vocabulary."""
        decoder = self._decoder
        deadline = time.monotonic() + self._budget_s
        _prime_cmn(decoder, pcm, deadline)
        if self._has_grammar:
            # Bounded by the recording's length and half the budget: the open-vocabulary
            # pass must still fit.
            seconds = len(pcm) / (2 * RATE)
            limit = min(self._budget_s / 2, max(1.0, GRAMMAR_RTF_LIMIT * seconds))
            text = _run(decoder, GRAMMAR, pcm, time.monotonic() + limit)
            if text and self._accept(text):
                return text
        text = _run(decoder, self._default_search, pcm, deadline)
        if time.monotonic() > deadline:
            raise TranscriptionFailed("Offline transcription took too long.", retryable=True)
        return text

    async def close(self) -> None:
        """Nothing to close: the decoder lives in memory."""


def with_margins(pcm: bytes) -> bytes:
    """Silence before and after: a recording cut right at the last word left the grammar
    search short of its final state ("what time is it" heard as "what time")."""
    margin = bytes(MARGIN_BYTES)
    return margin + pcm + margin


def dither(pcm: bytes) -> bytes:
    """Add a faint noise floor, as a microphone has: synthetic or gated speech has stretches of
    exact zeros, whose log energy breaks the recogniser's features and its noise removal
    (measured on espeak-ng speech: 59% of sentences right with amplitude 4, 86% with 100).

    Seeded, so a recording always decodes the same way; vectorised (the pure Python loop took
    about 10 ms per second of audio, 7 times this)."""
    samples = np.frombuffer(pcm[: len(pcm) // 2 * 2], dtype="<i2")
    noise = np.random.default_rng(0).normal(0.0, DITHER, samples.size)
    noisy = np.clip(np.trunc(samples + noise), -32768, 32767)
    return noisy.astype("<i2").tobytes()


def _prime_cmn(decoder: Any, pcm: bytes, deadline: float) -> None:
    """Start the cepstral mean at this recording's own, computed over all of it (features
    only, no search): one pass of the live estimate had not converged, and the first
    recording a decoder heard was misheard ("what time is it in tokyo" as "four at taipei
    is what in tokyo").

    One call over at most MAX_SECONDS of audio; past `deadline` the recording fails there (the
    utterance is closed, the decoder stays usable) rather than going on to the search."""
    decoder.start_utt()
    decoder.process_raw(pcm, no_search=True, full_utt=True)
    decoder.end_utt()
    if time.monotonic() > deadline:
        raise TranscriptionFailed("Offline transcription took too long.", retryable=True)
    decoder.set_cmn(decoder.get_cmn(True))


def _run(decoder: Any, search: str, pcm: bytes, deadline: float) -> str:
    """Decode in chunks, giving up (with what was heard so far) at the deadline."""
    decoder.activate_search(search)
    decoder.start_utt()
    for start in range(0, len(pcm), CHUNK_BYTES):
        decoder.process_raw(pcm[start:start + CHUNK_BYTES], no_search=False, full_utt=False)
        if time.monotonic() > deadline:
            break
    decoder.end_utt()
    hyp = decoder.hyp()
    return str(hyp.hypstr).strip() if hyp is not None else ""
