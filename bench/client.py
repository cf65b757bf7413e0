"""The load generator's HTTP side: send a command, time its events as they arrive."""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass, field
from typing import Any

import aiohttp

SEPARATOR = re.compile(rb"\r?\n\r?\n")
QUERY = "list my notes"


@dataclass
class Timing:
    """When each part of one command's answer arrived, in ms after the request started."""

    first_event_ms: float = 0.0
    marks: dict[str, float] = field(default_factory=dict)  # first time each progress type came
    total_ms: float = 0.0
    done: dict[str, Any] = field(default_factory=dict)


class SSEReader:
    """Split a response body into events as bytes arrive; parse only what is asked for."""

    def __init__(self, response: aiohttp.ClientResponse) -> None:
        self.response = response
        self._buffer = b""

    async def next_event(self) -> tuple[str, dict[str, Any]] | None:
        """The next (event name, data) or None at the end; comments (pings) are skipped."""
        while True:
            match = SEPARATOR.search(self._buffer)
            if match is not None:
                block, self._buffer = self._buffer[:match.start()], self._buffer[match.end():]
                parsed = _parse(block)
                if parsed is not None:
                    return parsed
                continue
            chunk = await self.response.content.readany()
            if not chunk:
                return None
            self._buffer += chunk


def _parse(block: bytes) -> tuple[str, dict[str, Any]] | None:
    name, data = "message", None
    for line in block.decode().splitlines():
        if line.startswith("event:"):
            name = line[6:].strip()
        elif line.startswith("data:"):
            data = line[5:].strip()
    return None if data is None else (name, json.loads(data))


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def stream_command(session: aiohttp.ClientSession, url: str, token: str,
                         headers: dict[str, str] | None = None, **request: Any) -> Timing:
    """POST one command to an SSE route and time its events until `done`.

    `request` is passed to `session.post` (json= for text, data= for audio).
    """
    timing = Timing()
    started = time.perf_counter()
    async with session.post(url, headers=auth(token) | (headers or {}), **request) as response:
        if response.status != 200:
            raise RuntimeError(f"{url}: HTTP {response.status}: {await response.text()}")
        reader = SSEReader(response)
        while (event := await reader.next_event()) is not None:
            now = (time.perf_counter() - started) * 1000
            name, data = event
            if not timing.first_event_ms:
                timing.first_event_ms = now
            if name == "progress":
                timing.marks.setdefault(str(data.get("type")), now)
            elif name == "done":
                timing.total_ms = now
                timing.done = data
                return timing
    raise RuntimeError(f"{url}: the stream ended without a done event")


async def json_command(session: aiohttp.ClientSession, url: str, token: str,
                       query: str = QUERY) -> Timing:
    """POST one command to the JSON route; the whole answer is the done payload."""
    started = time.perf_counter()
    async with session.post(url, headers=auth(token), json={"query": query}) as response:
        payload = await response.json()
        if response.status != 200:
            raise RuntimeError(f"{url}: HTTP {response.status}: {payload}")
    total = (time.perf_counter() - started) * 1000
    return Timing(total_ms=total, done=payload)


async def open_stream(session: aiohttp.ClientSession, url: str, token: str,
                      query: str = QUERY) -> tuple[aiohttp.ClientResponse, float]:
    """Start a command and return its open response once the first event came (and when)."""
    started = time.perf_counter()
    response = await session.post(url, headers=auth(token), json={"query": query})
    if response.status != 200:
        body = await response.text()
        response.release()
        raise RuntimeError(f"{url}: HTTP {response.status}: {body}")
    if await SSEReader(response).next_event() is None:
        response.release()
        raise RuntimeError(f"{url}: the stream ended before its first event")
    return response, (time.perf_counter() - started) * 1000
