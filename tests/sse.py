"""Read a Server-Sent Events body in tests, keeping comments (heartbeats) too."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import aiohttp

from voice_mcp.client.sse import SseComment, SseParser


@dataclass
class Stream:
    """Everything one SSE response carried."""

    events: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)  # (id, event, data)
    comments: list[str] = field(default_factory=list)
    raw: str = ""

    @property
    def progress(self) -> list[dict[str, Any]]:
        return [d for _, e, d in self.events if e == "progress"]

    @property
    def types(self) -> list[str]:
        return [d["type"] for d in self.progress]

    @property
    def errors(self) -> list[dict[str, Any]]:
        return [d for _, e, d in self.events if e == "error"]

    @property
    def done(self) -> dict[str, Any]:
        finals = [d for _, e, d in self.events if e == "done"]
        assert len(finals) == 1, f"expected exactly one done event, got {len(finals)}"
        assert self.events[-1][1] == "done", "done must be the last event"
        return finals[0]


def parse(raw: str) -> Stream:
    """Split a raw SSE body into events and comments, with the package's own parser."""
    stream = Stream(raw=raw)
    parser = SseParser()
    for item in [*parser.feed(raw.encode()), *parser.finish()]:
        if isinstance(item, SseComment):
            stream.comments.append(item.text.strip())
        else:
            stream.events.append((item.id or "", item.event, item.json()))
    return stream


async def read_stream(response: aiohttp.ClientResponse) -> Stream:
    """Read the whole SSE response."""
    assert response.status == 200, await response.text()
    return parse(await response.text())
