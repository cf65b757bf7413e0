"""Coalesce the answer's streamed text into `delta` events (docs/api.md, Events).

Tokens often arrive a few ms apart; one SSE event per token costs CPU and bytes for nothing a
listener can hear. The first piece leaves at once (it starts the device's speech), then
pieces are gathered and sent when a sentence ends or `interval_s` after the last send, so
coalescing never delays text by more than the interval.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Final

SENTENCE_ENDS: Final = frozenset(".!?;:\n。！？；：…")
_TRAILING_CLOSERS: Final = frozenset("\"')]»”’ ")
# Held back until more text comes: a zero-width joiner (inside an emoji sequence), a lone high
# surrogate (a server that split a pair across two chunks), and whitespace (it may be the
# answer's last character, which the response does not keep).
_JOINERS: Final = frozenset("\u200d")


def _holds_on(char: str) -> bool:
    return char in _JOINERS or char.isspace() or "\ud800" <= char <= "\udbff"


def ends_sentence(text: str) -> bool:
    """True when `text` ends a sentence, allowing closing quotes/brackets and spaces after it."""
    stripped = text.rstrip("".join(_TRAILING_CLOSERS))
    return bool(stripped) and stripped[-1] in SENTENCE_ENDS


class DeltaCoalescer:
    """Gather text pieces and hand them to `send` in coalesced, never-split deltas.

    What was sent is always the stripped text so far: leading whitespace is dropped and
    trailing whitespace waits for more text. Segments (`pause`) are joined by one space.
    """

    def __init__(self, send: Callable[[str], None], interval_s: float = 0.02) -> None:
        self._send = send
        self._interval = interval_s
        self._pending = ""
        self._sent_any = False
        self._last = 0.0
        self._timer: asyncio.TimerHandle | None = None
        self._segment_start = True
        self.sent = ""  # everything handed to `send` so far

    def feed(self, text: str) -> None:
        """Add a piece: sent now when first or ending a sentence, else within the interval."""
        if self._segment_start:
            text = text.lstrip()
            if not text:
                return
            self._segment_start = False
            if self.sent:
                text = " " + text
        if not text:
            return
        self._pending += text
        loop = asyncio.get_running_loop()
        due = self._last + self._interval
        if not self._sent_any or ends_sentence(self._pending) or loop.time() >= due:
            self._flush()
        elif self._timer is None:
            self._timer = loop.call_at(due, self._flush)

    def close(self) -> None:
        """Send what is left but trailing whitespace: this segment is complete."""
        self._cancel_timer()
        rest = self._pending.rstrip()
        self._pending = ""
        if rest:
            self._emit(rest)

    def pause(self) -> None:
        """End the segment; later text starts a new one, one space after this."""
        self.close()
        self._segment_start = True

    def _flush(self) -> None:
        self._cancel_timer()
        text = self._pending
        keep = 0
        while keep < len(text) and _holds_on(text[len(text) - 1 - keep]):
            keep += 1
        if keep == len(text):
            return
        self._pending = text[len(text) - keep:] if keep else ""
        self._emit(text[: len(text) - keep])

    def _emit(self, text: str) -> None:
        self._sent_any = True
        self._last = asyncio.get_running_loop().time()
        self.sent += text
        self._send(text)

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
