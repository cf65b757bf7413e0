"""Run aiohttp and ASGI apps in the test's event loop on pre-bound loopback sockets.

The sockets listen before the servers start, so the URL is known first and early
connections wait in the backlog instead of failing: nothing polls for readiness.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator, Iterator

import uvicorn
from aiohttp import web
from starlette.types import ASGIApp


def listening_socket() -> socket.socket:
    """A loopback TCP socket on a free port, already listening."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    sock.setblocking(False)
    return sock


def base_url(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    return f"http://{host}:{port}"


@contextlib.asynccontextmanager
async def serve_aiohttp(app: web.Application, sock: socket.socket) -> AsyncIterator[None]:
    """Serve an aiohttp app on `sock` until the block ends."""
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.SockSite(runner, sock).start()
    try:
        yield
    finally:
        await runner.cleanup()


class _Server(uvicorn.Server):
    """uvicorn that says when it is up and leaves the process's signal handlers alone."""

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self.ready = asyncio.Event()
        self._stop = asyncio.Event()

    def stop(self) -> None:
        self.should_exit = True
        self._stop.set()

    async def main_loop(self) -> None:
        # Wait for stop() instead of polling every 0.1 s (tests start and stop many servers).
        await self.on_tick(0)
        await self._stop.wait()

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=sockets)
        self.ready.set()

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


@contextlib.asynccontextmanager
async def serve_asgi(app: ASGIApp, sock: socket.socket) -> AsyncIterator[None]:
    """Serve an ASGI app (with its lifespan) on `sock` until the block ends."""
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on",
                            timeout_graceful_shutdown=2)
    server = _Server(config)
    serving = asyncio.create_task(server.serve(sockets=[sock]))
    ready = asyncio.create_task(server.ready.wait())
    async with asyncio.timeout(10):
        await asyncio.wait({serving, ready}, return_when=asyncio.FIRST_COMPLETED)
    if not server.ready.is_set():
        ready.cancel()
        await serving  # re-raises why it stopped
        raise RuntimeError("ASGI server stopped during start-up")
    try:
        yield
    finally:
        server.stop()
        await serving
