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
from voice_mcp.services.pcm import RATE, to_pcm16

log = logging.getLogger(__name__)
GRAMMAR = "templates"
MAX_SECONDS = 15  # longer recordings are refused: no spoken command takes this long
MAX_ACTIVE_HMMS = 3000  # caps the search per frame, so a large grammar cannot run away
CHUNK_BYTES = RATE * 2 // 20  # 50 ms of audio between deadline checks
DITHER = 4.0  # noise amplitude (of 32768) added to every sample
GRAMMAR_RTF_LIMIT = 3.0  # the grammar pass may take this many times the recording's length


def model_dir() -> Path:
    """The wheel's English model directory."""
    import pocketsphinx

    return Path(pocketsphinx.get_model_path()) / "en-us"


def dictionary_words() -> set[str]:
    """Every word the shipped pronunciation dictionary knows."""
    text = (model_dir() / "cmudict-en-us.dict").read_text(encoding="utf-8")
    return {line.split(" ", 1)[0].split("(", 1)[0] for line in text.splitlines() if line}


class LocalTranscriber:
    """pocketsphinx in a worker thread; one utterance at a time (a decoder is not re-entrant)."""

    configured = True

    def __init__(self, grammar: Callable[[], str | None], accept: Callable[[str], bool],
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
        grammar = self._grammar()
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
            return await asyncio.to_thread(self._decode, dither(pcm))

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


def dither(pcm: bytes) -> bytes:
    """Add faint noise: synthetic speech has stretches of exact zeros, whose log energy breaks
    the recogniser's features (with them it heard almost nothing of espeak-ng speech).

    Seeded, so a recording always decodes the same way; vectorised (the pure Python loop took
    about 10 ms per second of audio, 7 times this)."""
    samples = np.frombuffer(pcm[: len(pcm) // 2 * 2], dtype="<i2")
    noise = np.random.default_rng(0).normal(0.0, DITHER, samples.size)
    noisy = np.clip(np.trunc(samples + noise), -32768, 32767)
    return noisy.astype("<i2").tobytes()


def _prime_cmn(decoder: Any, pcm: bytes, deadline: float) -> None:
    """Start the cepstral mean at this recording's own: live normalisation otherwise begins
    from the last recording's (or the model's) mean and mishears the first words.

    Within the decode's budget: past `deadline` the utterance is closed (the decoder stays
    usable) and the recording fails, so no input holds the one decoder for longer."""
    decoder.start_utt()
    late = False
    for start in range(0, len(pcm), CHUNK_BYTES):
        decoder.process_raw(pcm[start:start + CHUNK_BYTES], no_search=True, full_utt=False)
        if time.monotonic() > deadline:
            late = True
            break
    decoder.end_utt()
    if late:
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
