"""Read a text/event-stream body as it arrives: the one SSE parser of the CLI, tests and bench.

Follows the WHATWG event-stream rules that matter here: `event:`, `data:` (several lines
join with "\\n"), `id:`, `retry:`, `:` comments, any of CRLF, LF or CR ending a line, and an
event sent at each blank line only when it has data.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterable, AsyncIterator
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class SseEvent:
    """One dispatched event."""

    event: str
    data: str
    id: str | None = None
    retry: int | None = None

    def json(self) -> Any:
        """The data as JSON (every event voice-mcp sends carries a JSON object)."""
        return json.loads(self.data)


@dataclass(frozen=True)
class SseComment:
    """A `:` line, such as the server's heartbeat; the text after the colon."""

    text: str


Item = SseEvent | SseComment


class SseParser:
    """Feed bytes in any pieces; get back the events and comments they complete."""

    def __init__(self) -> None:
        self._buffer = b""
        self._last_id: str | None = None
        self._reset()

    def _reset(self) -> None:
        self._event = ""
        self._data: list[str] = []
        self._retry: int | None = None

    def feed(self, chunk: bytes) -> list[Item]:
        """Parse what `chunk` completes; an unfinished line waits for the next chunk."""
        self._buffer += chunk
        items: list[Item] = []
        while True:
            end, size = _line_end(self._buffer)
            if end < 0:
                return items
            line, self._buffer = self._buffer[:end], self._buffer[end + size:]
            item = self._line(line.decode("utf-8"))
            if item is not None:
                items.append(item)

    def finish(self) -> list[Item]:
        """The body ended: a final CR ends its line; an unfinished line or event is dropped."""
        items = self.feed(b"\n") if self._buffer.endswith(b"\r") else []
        self._buffer = b""
        self._reset()
        return items

    def _line(self, line: str) -> Item | None:
        if not line:
            return self._dispatch()
        if line.startswith(":"):
            return SseComment(line[1:].removeprefix(" "))
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if name == "event":
            self._event = value
        elif name == "data":
            self._data.append(value)
        elif name == "id" and "\0" not in value:
            self._last_id = value
        elif name == "retry" and value.isdigit():
            self._retry = int(value)
        return None

    def _dispatch(self) -> SseEvent | None:
        event = None
        if self._data:
            event = SseEvent(self._event or "message", "\n".join(self._data), self._last_id,
                             self._retry)
        self._reset()
        return event


def _line_end(buffer: bytes) -> tuple[int, int]:
    """(index, length) of the first line ending, or (-1, 0); a final CR may begin a CRLF."""
    cr, lf = buffer.find(b"\r"), buffer.find(b"\n")
    if cr < 0 or (0 <= lf < cr):
        return lf, 1 if lf >= 0 else 0
    if cr + 1 == len(buffer):
        return -1, 0  # wait: the LF of a CRLF may be in the next chunk
    return cr, 2 if buffer[cr + 1:cr + 2] == b"\n" else 1


async def read_items(chunks: AsyncIterable[bytes]) -> AsyncIterator[Item]:
    """Events and comments from a body arriving in chunks of any size."""
    parser = SseParser()
    async for chunk in chunks:
        for item in parser.feed(chunk):
            yield item
    for item in parser.finish():
        yield item


async def read_events(chunks: AsyncIterable[bytes]) -> AsyncIterator[SseEvent]:
    """Only the events of a body (heartbeat comments skipped)."""
    async for item in read_items(chunks):
        if isinstance(item, SseEvent):
            yield item
