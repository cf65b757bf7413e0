"""The CLI's HTTP client (client/http.py) against a real aiohttp server and raw sockets that
misbehave: bodies as sent, a path prefix kept, multipart read by the server, cuts and
silences reported as a lost connection, a closed port as unreachable."""

from __future__ import annotations

import asyncio
import socket
import struct
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from aiohttp import web

from voice_mcp.client.http import ConnectionLost, Form, HttpClient, Unreachable, json_body

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


@pytest.fixture
async def app_url() -> AsyncIterator[str]:
    async def echo(request: web.Request) -> web.StreamResponse:
        if request.content_type == "multipart/form-data":
            form = await request.post()
            upload = form["audio"]
            assert isinstance(upload, web.FileField)
            return web.json_response({"conversationId": form["conversationId"],
                                      "file": upload.filename, "type": upload.content_type,
                                      "size": len(upload.file.read())})
        return web.json_response({"path": request.path, "auth": request.headers["Authorization"],
                                  "body": await request.json() if request.can_read_body
                                  else None})

    async def chunked(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse()
        response.enable_chunked_encoding()
        await response.prepare(request)
        for piece in (b"data: 1\n\n", b"data: 2\n\n"):
            await response.write(piece)
        await response.write_eof()
        return response

    app = web.Application()
    app.router.add_route("*", "/prefix/echo", echo)
    app.router.add_get("/prefix/chunked", chunked)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    yield f"http://{host}:{port}/prefix/"
    await runner.cleanup()


async def raw_server(handler: Handler) -> tuple[asyncio.Server, str]:
    server = await asyncio.start_server(handler, "127.0.0.1", 0)
    return server, f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"


async def test_json_body_headers_and_path_prefix(app_url: str) -> None:
    http = HttpClient(app_url.rstrip("/"), {"Authorization": "Bearer t"})
    async with http.request("POST", "/echo", **json_body({"query": "héllo"})) as response:
        assert response.status == 200
        assert await response.json() == {"path": "/prefix/echo", "auth": "Bearer t",
                                         "body": {"query": "héllo"}}


async def test_a_chunked_body_arrives_in_order(app_url: str) -> None:
    async with HttpClient(app_url.rstrip("/")).request("GET", "/chunked") as response:
        assert await response.read() == b"data: 1\n\ndata: 2\n\n"


async def test_a_multipart_upload_is_read_by_the_server(app_url: str) -> None:
    body, content_type = Form({"conversationId": "c1"},
                              ("audio", 'say "hi".wav', b"RIFF" + bytes(5000), "audio/wav")
                              ).encode()
    async with HttpClient(app_url.rstrip("/")).request("POST", "/echo", body=body,
                                                       content_type=content_type) as response:
        assert await response.json() == {"conversationId": "c1", "file": 'say %22hi%22.wav',
                                         "type": "audio/wav", "size": 5004}


async def test_a_body_cut_short_is_a_lost_connection() -> None:
    async def cut(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly this")
        await writer.drain()
        writer.close()

    server, url = await raw_server(cut)
    async with server, HttpClient(url).request("GET", "/") as response:
        with pytest.raises(ConnectionLost):
            await response.read()


async def test_what_arrived_before_a_reset_is_read_before_the_loss() -> None:
    """A connection reset (RST) after an event: the event is still read, then the loss is
    reported; the client resumes from that event's id (asyncio's StreamReader drops it)."""
    async def reset(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
        await writer.drain()
        await asyncio.sleep(0.1)
        writer.write(b"8\r\nid: 7\n\n\n\r\n")
        await writer.drain()
        await asyncio.sleep(0.1)
        sock = writer.get_extra_info("socket")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        writer.transport.abort()

    server, url = await raw_server(reset)
    async with server, HttpClient(url).request("GET", "/") as response:
        await asyncio.sleep(0.5)  # the reset has arrived before anything is read
        chunks = response.chunks()
        assert await anext(chunks) == b"id: 7\n\n\n"
        with pytest.raises(ConnectionLost):
            await anext(chunks)


async def test_a_silent_server_is_a_lost_connection_after_the_read_timeout() -> None:
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
        await writer.drain()
        await asyncio.sleep(30)

    server, url = await raw_server(silent)
    async with server, HttpClient(url, read_timeout_s=0.2).request("GET", "/") as response:
        assert response.status == 200
        with pytest.raises(ConnectionLost):
            await response.read()


async def test_garbage_instead_of_http_is_a_lost_connection() -> None:
    async def garbage(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"\x16\x03\x01 not http at all\r\n\r\n")
        await writer.drain()
        writer.close()

    server, url = await raw_server(garbage)
    async with server:
        with pytest.raises(ConnectionLost):
            async with HttpClient(url).request("GET", "/"):
                pass


async def test_a_closed_port_is_unreachable() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(Unreachable):
        async with HttpClient(f"http://127.0.0.1:{port}").request("GET", "/healthz"):
            pass


async def test_an_unknown_scheme_is_refused_before_connecting() -> None:
    with pytest.raises(Unreachable, match="scheme"):
        async with HttpClient("ftp://127.0.0.1:21").request("GET", "/"):
            pass
