"""The load generator: a lean HTTP/1.1 keep-alive client that times a command's events.

A general client (aiohttp's) spends about 2 ms of CPU per command here; on a 2-core
machine that is CPU taken from the server under test, and with 100 requests started at
once it also delays the last request's departure by the first 99's client work. This client
sends pre-encoded requests and only splits the body into events, so each request leaves
within microseconds of its timer starting.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from voice_mcp.client.sse import read_events

QUERY = "list my notes"
COMMAND_TIMEOUT_S = 90.0  # longer than the server's own 60 s budget: it must answer first


@dataclass
class Timing:
    """When each part of one command's answer arrived, in ms after the request was sent."""

    first_event_ms: float = 0.0
    first_event_made_ms: float = 0.0  # its `timestamp` (server clock, whole ms) minus the send
    marks: dict[str, float] = field(default_factory=dict)  # first time each progress type came
    total_ms: float = 0.0
    done: dict[str, Any] = field(default_factory=dict)
    first_delta_ms: float = 0.0
    first_delta_epoch: float = 0.0  # time.time() when the first `delta` arrived
    deltas: int = 0
    first_sentence_ms: float = 0.0  # when the deltas so far first held a sentence end


def encode_request(host: str, path: str, token: str, body: bytes,
                   content_type: str = "application/json") -> bytes:
    """One POST with its body, ready to write."""
    head = (f"POST {path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {token}\r\n"
            f"Content-Type: {content_type}\r\nContent-Length: {len(body)}\r\n\r\n")
    return head.encode() + body


def command_body(query: str = QUERY) -> bytes:
    return json.dumps({"query": query}).encode()


class Connection:
    """One keep-alive connection; requests on it run one after another."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._reader = reader
        self._writer = writer

    @classmethod
    async def open(cls, host: str, port: int) -> Connection:
        reader, writer = await asyncio.open_connection(host, port, limit=1 << 20)
        return cls(reader, writer)

    async def close(self) -> None:
        self._writer.close()
        try:
            await self._writer.wait_closed()
        except ConnectionError:
            pass  # the server had already let go

    async def command(self, request: bytes) -> Timing:
        """Send a command; time its events (SSE) or its whole answer (JSON) until the end."""
        async with asyncio.timeout(COMMAND_TIMEOUT_S):
            return await self._command(request)

    async def _command(self, request: bytes) -> Timing:
        timing = Timing()
        sent_epoch_ms = time.time() * 1000
        started = time.perf_counter()
        self._writer.write(request)
        status, headers = await self._head()
        if status != 200:
            body = await self._body(headers)
            raise RuntimeError(f"HTTP {status}: {body[:300]!r}")
        if not headers.get("content-type", "").startswith("text/event-stream"):
            timing.done = json.loads(await self._body(headers))
            timing.total_ms = (time.perf_counter() - started) * 1000
            return timing
        async for name, data in self._events():
            now = (time.perf_counter() - started) * 1000
            if not timing.first_event_ms:
                timing.first_event_ms = now
                timing.first_event_made_ms = float(data.get("timestamp", 0)) - sent_epoch_ms
            if name == "progress":
                timing.marks.setdefault(str(data.get("type")), now)
            elif name == "delta":
                timing.deltas += 1
                if timing.deltas == 1:
                    timing.first_delta_ms, timing.first_delta_epoch = now, time.time()
                if not timing.first_sentence_ms and any(c in ".!?" for c in data["text"]):
                    timing.first_sentence_ms = now
            elif name == "done":
                timing.total_ms, timing.done = now, data
        if not timing.done:
            raise RuntimeError("the stream ended without a done event")
        return timing

    async def first_event(self, request: bytes) -> float:
        """Send a command and return (ms) once its first event came; the stream stays open."""
        async with asyncio.timeout(COMMAND_TIMEOUT_S):
            return await self._first_event(request)

    async def _first_event(self, request: bytes) -> float:
        started = time.perf_counter()
        self._writer.write(request)
        status, _headers = await self._head()
        if status != 200:
            raise RuntimeError(f"HTTP {status}")
        async for _event in self._events():
            return (time.perf_counter() - started) * 1000
        raise RuntimeError("the stream ended before its first event")

    async def _head(self) -> tuple[int, dict[str, str]]:
        status_line = await self._reader.readline()
        if not status_line:
            raise ConnectionError("the server closed the connection")
        headers: dict[str, str] = {}
        while (line := await self._reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.decode("latin-1").partition(":")
            headers[name.strip().lower()] = value.strip()
        return int(status_line.split()[1]), headers

    async def _body(self, headers: dict[str, str]) -> bytes:
        if "content-length" in headers:
            return await self._reader.readexactly(int(headers["content-length"]))
        return b"".join([chunk async for chunk in self._chunks()])

    async def _chunks(self) -> AsyncIterator[bytes]:
        """The pieces of a chunked body, up to and including its end."""
        while True:
            size = int((await self._reader.readline()).split(b";")[0], 16)
            if size == 0:
                await self._reader.readline()  # the blank line after the last chunk
                return
            data = await self._reader.readexactly(size + 2)
            yield data[:-2]

    async def _events(self) -> AsyncIterator[tuple[str, dict[str, Any]]]:
        """(event name, data) for each SSE event of a chunked body; comments are skipped."""
        async for event in read_events(self._chunks()):
            yield event.event, event.json()
