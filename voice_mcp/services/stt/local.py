"""Offline speech to text with pocketsphinx, whose English model ships in its PyPI wheel.

A first decoder searches a grammar of the sentence templates (docs/local-intents.md), made
deterministic (speech_graph.py), so in-domain commands are heard as the words the templates know;
when that finds nothing the templates accept, a second decoder, with the open-vocabulary
language model, decodes the same audio. Two decoders, because the grammar is best searched
with a lighter language weight than the language model (measured on the benchmark's speech).
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from voice_mcp.errors import TranscriptionFailed
from voice_mcp.services.stt.audio_format import AudioFormat
from voice_mcp.services.stt.lexicon import VARIANTS, Lexicon
from voice_mcp.services.stt.pcm import RATE, to_pcm16
from voice_mcp.services.stt.slots import DecoderPool, UserSlots
from voice_mcp.services.stt.speech_graph import CycleError, compile_grammar

log = logging.getLogger(__name__)
# Builds the template grammar, given which words the recogniser can hear.
GrammarSource = Callable[[Callable[[str], bool]], str | None]
GRAMMAR = "templates"
MAX_ACTIVE_HMMS = 3000  # caps the search per frame, so a large grammar cannot run away
CHUNK_BYTES = RATE * 2 // 20  # 50 ms of audio between deadline checks
DITHER = 100.0  # noise floor added to every sample (of 32768: about -50 dBFS)
MARGIN_BYTES = RATE * 2 * 3 // 10  # 0.3 s of silence around the recording
GRAMMAR_RTF_LIMIT = 3.0  # the grammar pass may take this many times the recording's length
# The grammar decoder's language weight (the model's default, 6.5, suits its language model)
# and no lattice rescoring: on the benchmark's speech and a second set of 100 sentences, 4
# heard more right than 3 or 6.5; the lattice pass lost the final state of sentences the
# search had found ("what's the time in san francisco" heard as nothing).
GRAMMAR_LW = 4.0


def model_dir() -> Path:
    """The wheel's English model directory."""
    import pocketsphinx

    return Path(pocketsphinx.get_model_path()) / "en-us"


def shipped_lexicon() -> Lexicon:
    """The wheel's pronunciation dictionary, our place-name variants, spelled acronyms on
    demand."""
    return Lexicon(model_dir() / "cmudict-en-us.dict", VARIANTS)


@dataclass
class Decoders:
    """One recogniser: the open-vocabulary decoder, and the template one (None without a
    grammar). Not re-entrant: one recording at a time (see slots.DecoderPool)."""

    open: Any
    grammar: Any | None
    default_search: str


class LocalTranscriber:
    """pocketsphinx in worker threads, a small pool of decoders shared fairly (slots.py)."""

    configured = True

    def __init__(self, grammar: GrammarSource, accept: Callable[[str], bool],
                 budget_s: float = 30.0, *, decoders: int = 2, per_user: int = 2) -> None:
        self._grammar = grammar
        self.budget_s = budget_s
        self.accept = accept
        self._shared: tuple[Lexicon, str | None] | None = None
        self._shared_lock = threading.Lock()
        self._pool = DecoderPool(decoders, self._load)
        self._users = UserSlots(per_user)
        self._decodes = asyncio.Semaphore(decoders)  # ffmpeg/sox processes at once

    def _lexicon_and_grammar(self) -> tuple[Lexicon, str | None]:
        """Read once, for every decoder the pool builds."""
        with self._shared_lock:
            if self._shared is None:
                lexicon = shipped_lexicon()
                # First: the grammar spells the acronyms it meets into the lexicon.
                self._shared = (lexicon, self._grammar(lexicon.knows))
            return self._shared

    def _load(self) -> Decoders:
        """Build one recogniser (about a second, plus the grammar), in a thread."""
        from pocketsphinx import Decoder

        started = time.perf_counter()
        model = model_dir()
        lexicon, grammar = self._lexicon_and_grammar()

        def new_decoder(**config: Any) -> Any:
            decoder = Decoder(hmm=str(model / "en-us"), dict=str(model / "cmudict-en-us.dict"),
                              samprate=RATE, maxhmmpf=MAX_ACTIVE_HMMS, loglevel="FATAL",
                              **config)
            for word, phones in lexicon.added.items():
                decoder.add_word(word, phones, False)
            return decoder

        decoder = new_decoder(lm=str(model / "en-us.lm.bin"))
        templates = _with_grammar(new_decoder(lm=None, lw=GRAMMAR_LW, bestpath=False),
                                  grammar) if grammar else None
        log.info("offline speech recogniser ready in %.1f s", time.perf_counter() - started)
        return Decoders(decoder, templates, decoder.current_search())

    async def warm(self) -> None:
        """Load the model now rather than on the first recording."""
        await self._pool.warm()

    @asynccontextmanager
    async def lease(self, user_id: str = "") -> AsyncIterator[Decoders]:
        """A recogniser for one utterance of `user_id`, counted against the user's bounds,
        held for the block (the streaming recogniser holds it while the user speaks)."""
        async with self._users.admit(user_id), self._users.turn(user_id), \
                self._pool.lease() as decoders:
            yield decoders

    async def transcribe(self, audio: bytes, fmt: AudioFormat, user_id: str = "",
                         hint: str = "") -> str:
        """The transcript of one recording (empty when nothing was recognised); the hint is
        for prompted server recognisers (offline, the listen socket's phrases do that)."""
        async with self._users.admit(user_id):
            async with self._decodes:
                pcm = await to_pcm16(audio, fmt)
            async with self._users.turn(user_id), self._pool.lease() as decoders:
                return await asyncio.to_thread(self._decode, decoders,
                                               dither(with_margins(pcm)))

    def _decode(self, decoders: Decoders, pcm: bytes) -> str:
        """The grammar's words when the templates accept them, else open vocabulary."""
        deadline = time.monotonic() + self.budget_s
        if decoders.grammar is not None:
            # Bounded by the recording's length and half the budget: the open-vocabulary
            # pass must still fit.
            seconds = len(pcm) / (2 * RATE)
            limit = time.monotonic() + min(self.budget_s / 2,
                                           max(1.0, GRAMMAR_RTF_LIMIT * seconds))
            _prime_cmn(decoders.grammar, pcm, deadline)
            text = _run(decoders.grammar, GRAMMAR, pcm, limit)
            if text and self.accept(text):
                return text
        return open_vocabulary(decoders, pcm, deadline)

    async def close(self) -> None:
        """Nothing to close: the decoders live in memory."""


def open_vocabulary(decoders: Decoders, pcm: bytes, deadline: float) -> str:
    """The language model's words for the whole of `pcm` (margins and dither added)."""
    _prime_cmn(decoders.open, pcm, deadline)
    text = _run(decoders.open, decoders.default_search, pcm, deadline)
    _check_deadline(deadline)
    return text


def _with_grammar(decoder: Any, grammar: str) -> Any:
    """`decoder` searching `grammar` (deterministic, else as pocketsphinx compiles it); None
    when pocketsphinx cannot read it (open vocabulary only, then)."""
    try:
        arcs = compile_grammar(decoder, GRAMMAR, grammar)
        log.debug("template grammar: %d arcs", arcs)
    except (CycleError, ValueError, RuntimeError, OSError):
        try:
            decoder.add_jsgf_string(GRAMMAR, grammar)
        except (ValueError, RuntimeError):
            log.warning("the template grammar did not load; using open vocabulary only")
            return None
    decoder.activate_search(GRAMMAR)
    return decoder


def with_margins(pcm: bytes) -> bytes:
    """Silence before and after: a recording cut right at the last word left the grammar
    search short of its final state ("what time is it" heard as "what time")."""
    margin = bytes(MARGIN_BYTES)
    return margin + pcm + margin


def dither(pcm: bytes, rng: np.random.Generator | None = None) -> bytes:
    """Add a faint noise floor, as a microphone has: synthetic or gated speech has stretches of
    exact zeros, whose log energy breaks the recogniser's features and its noise removal
    (measured on espeak-ng speech: 59% of sentences right with amplitude 4, 86% with 100).

    Seeded, so a recording always decodes the same way (a stream passes its own `rng`, to
    continue one noise stream across its frames); vectorised (the pure Python loop took
    about 10 ms per second of audio, 7 times this)."""
    samples = np.frombuffer(pcm[: len(pcm) // 2 * 2], dtype="<i2")
    noise = (rng or np.random.default_rng(0)).normal(0.0, DITHER, samples.size)
    noisy = np.clip(np.trunc(samples + noise), -32768, 32767)
    return noisy.astype("<i2").tobytes()


def _prime_cmn(decoder: Any, pcm: bytes, deadline: float) -> None:
    """Start the cepstral mean at this recording's own, computed over all of it (features
    only, no search): one pass of the live estimate had not converged, and the first
    recording a decoder heard was misheard ("what time is it in tokyo" as "four at taipei
    is what in tokyo").

    The features start from the model's own state (0.1 ms): what the last recording left in
    the mean and the noise estimate had made "convert nine a.m. ..." heard as "one a.m."
    after another sentence; a transcript must not depend on who spoke before.

    One call over at most MAX_SECONDS of audio; past `deadline` the recording fails there (the
    utterance is closed, the decoder stays usable) rather than going on to the search."""
    decoder.reinit_feat()
    decoder.start_utt()
    decoder.process_raw(pcm, no_search=True, full_utt=True)
    decoder.end_utt()
    _check_deadline(deadline)
    decoder.set_cmn(decoder.get_cmn(True))


def _check_deadline(deadline: float) -> None:
    """Fail the recording (retryable) once past its transcription budget."""
    if time.monotonic() > deadline:
        raise TranscriptionFailed("Offline transcription took too long.", retryable=True)


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
