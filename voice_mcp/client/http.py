"""The CLI's HTTP/1.1 client: an asyncio protocol and h11, nothing else.

`voice-mcp ask` must send its first request within 150 ms of starting (docs/performance.md);
importing aiohttp alone takes longer than that, because it builds TLS contexts at import.
h11 (the sans-I/O HTTP/1.1 state machine under httpx and uvicorn) parses the protocol: framing,
chunked bodies, a connection cut mid-body. One connection per request: the CLI makes a few
requests, and the event stream and an answer to a question run side by side anyway.
"""

from __future__ import annotations

import asyncio
import json
import secrets
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import h11

READ_SIZE = 65_536
CONNECT_TIMEOUT_S = 10.0


class Unreachable(Exception):
    """No connection could be made (refused, no route, name unknown, connect timeout)."""


class ConnectionLost(Exception):
    """The connection dropped, or went silent past the read timeout, before the body ended."""


@dataclass
class Response:
    """A response whose body is read as it arrives."""

    status: int
    headers: dict[str, str]
    _connection: h11.Connection
    _inbox: Inbox
    _read_timeout_s: float | None

    async def chunks(self) -> AsyncIterator[bytes]:
        """The body in the pieces the server sent (chunked framing removed)."""
        while True:
            event = await _next_event(self._connection, self._inbox, self._read_timeout_s)
            if isinstance(event, h11.Data):
                yield bytes(event.data)
            elif isinstance(event, h11.EndOfMessage):
                return

    async def read(self) -> bytes:
        return b"".join([chunk async for chunk in self.chunks()])

    async def json(self) -> Any:
        """The body as JSON, or {} when it is not JSON (an error page from a proxy)."""
        try:
            return json.loads(await self.read())
        except ValueError:
            return {}


@dataclass(frozen=True)
class Form:
    """A multipart/form-data body: text fields and one file (an audio upload)."""

    fields: Mapping[str, str] = field(default_factory=dict)
    file: tuple[str, str, bytes, str] | None = None  # (field, file name, data, media type)

    def encode(self) -> tuple[bytes, str]:
        """(body, content type) with a random boundary that cannot occur in the parts."""
        boundary = secrets.token_hex(16)
        parts: list[bytes] = []
        for name, value in self.fields.items():
            parts.append(_part(boundary, f'name="{_quoted(name)}"', None, value.encode()))
        if self.file is not None:
            name, filename, data, media_type = self.file
            parts.append(_part(boundary, f'name="{_quoted(name)}"; filename="{_quoted(filename)}"',
                               media_type, data))
        body = b"".join(parts) + f"--{boundary}--\r\n".encode()
        return body, f"multipart/form-data; boundary={boundary}"


def _quoted(value: str) -> str:
    # As browsers do (WHATWG multipart/form-data encoding): quote, CR and LF percent-encoded.
    return value.replace('"', "%22").replace("\r", "%0D").replace("\n", "%0A")


def _part(boundary: str, disposition: str, media_type: str | None, data: bytes) -> bytes:
    head = f"--{boundary}\r\nContent-Disposition: form-data; {disposition}\r\n"
    if media_type:
        head += f"Content-Type: {media_type}\r\n"
    return head.encode() + b"\r\n" + data + b"\r\n"


class Inbox(asyncio.Protocol):
    """The bytes a connection receives, in order, then b"" once it has ended however it ended.

    Not asyncio's StreamReader: after a reset it raises at once and drops what it had already
    received, which would lose the last events before a cut (and with them the id to resume
    from). Reading pauses while more than `HIGH_WATER` bytes wait, so a server cannot fill
    memory faster than the client reads."""

    HIGH_WATER = 1 << 20

    def __init__(self) -> None:
        self._chunks: asyncio.Queue[bytes] = asyncio.Queue()
        self._waiting = 0
        self._transport: asyncio.Transport | None = None
        self._paused = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport

    def data_received(self, data: bytes) -> None:
        self._chunks.put_nowait(data)
        self._waiting += len(data)
        if self._waiting > self.HIGH_WATER and self._transport and not self._paused:
            self._paused = True
            self._transport.pause_reading()

    def eof_received(self) -> bool | None:
        self._chunks.put_nowait(b"")
        return None  # close the transport

    def connection_lost(self, exc: Exception | None) -> None:
        self._chunks.put_nowait(b"")  # after every chunk already received

    async def read(self) -> bytes:
        """The next chunk; b"" when the connection has ended."""
        data = await self._chunks.get()
        if not data:
            self._chunks.put_nowait(b"")  # the end stays the end for the next reader
        self._waiting -= len(data)
        if self._paused and self._waiting <= self.HIGH_WATER // 2 and self._transport:
            self._paused = False
            self._transport.resume_reading()
        return data

    def write(self, data: bytes) -> None:
        if self._transport is None or self._transport.is_closing():
            raise ConnectionLost("the connection dropped")
        self._transport.write(data)

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()


@dataclass
class HttpClient:
    """Requests to one server: its base URL (a path prefix kept), headers sent on each."""

    base_url: str
    headers: dict[str, str] = field(default_factory=dict)
    read_timeout_s: float | None = None

    @asynccontextmanager
    async def request(self, method: str, path: str, *, body: bytes = b"",
                      content_type: str | None = None, headers: Mapping[str, str] | None = None,
                      read_timeout_s: float | None = None) -> AsyncIterator[Response]:
        """Send the request, yield the response once its headers are in; close after."""
        url = urlsplit(self.base_url)
        inbox = await _connect(url.scheme, url.hostname or "", url.port)
        try:
            connection = h11.Connection(h11.CLIENT)
            sent = {"Host": url.netloc, "Connection": "close", "Content-Length": str(len(body)),
                    **self.headers, **(headers or {})}
            if content_type:
                sent["Content-Type"] = content_type
            target = url.path.rstrip("/") + path
            inbox.write(connection.send(h11.Request(method=method, target=target,
                                                    headers=list(sent.items()))) or b"")
            if body:
                inbox.write(connection.send(h11.Data(data=body)) or b"")
            inbox.write(connection.send(h11.EndOfMessage()) or b"")
            timeout = self.read_timeout_s if read_timeout_s is None else read_timeout_s
            response = await _response_head(connection, inbox, timeout)
            yield Response(response.status_code,
                           {k.decode("latin-1").lower(): v.decode("latin-1")
                            for k, v in response.headers},
                           connection, inbox, timeout)
        finally:
            inbox.close()


def json_body(value: Any) -> dict[str, Any]:
    """`request` keywords for a JSON body."""
    return {"body": json.dumps(value).encode(), "content_type": "application/json"}


async def _connect(scheme: str, host: str, port: int | None) -> Inbox:
    context = None
    if scheme == "https":
        import ssl  # only for an https server: building the context costs milliseconds

        context = ssl.create_default_context()
    elif scheme != "http":
        raise Unreachable(f"unsupported URL scheme {scheme!r}: use http or https")
    loop = asyncio.get_running_loop()
    try:
        async with asyncio.timeout(CONNECT_TIMEOUT_S):
            _, inbox = await loop.create_connection(
                Inbox, host, port or (443 if context else 80), ssl=context)
    except (OSError, TimeoutError):
        raise Unreachable(f"cannot connect to {host}") from None
    return inbox


async def _response_head(connection: h11.Connection, inbox: Inbox,
                         silence_s: float | None) -> h11.Response:
    while True:
        event = await _next_event(connection, inbox, silence_s)
        if isinstance(event, h11.Response):
            return event


async def _next_event(connection: h11.Connection, inbox: Inbox,
                      silence_s: float | None) -> Any:
    """The next protocol event, reading from the socket as h11 needs more bytes; a read that
    waits longer than `silence_s` counts as a lost connection (the server sends heartbeats)."""
    while True:
        try:
            event = connection.next_event()
        except h11.RemoteProtocolError:
            raise ConnectionLost("the server's response was cut or malformed") from None
        if isinstance(event, h11.ConnectionClosed):
            raise ConnectionLost("the server closed the connection")
        if event is not h11.NEED_DATA:
            return event
        try:
            async with asyncio.timeout(silence_s):
                data = await inbox.read()
        except TimeoutError:
            raise ConnectionLost("the connection went silent") from None
        connection.receive_data(data)
