"""Serve an MCPServer over Streamable HTTP or legacy SSE on a loopback port, in a thread.

The server runs uvicorn on its own event loop in a daemon thread, so a test's loop
can block or be torn down without taking the server with it, and the server can be
stopped and started again on the same port (a restart) while the test runs.
"""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

import uvicorn
from mcp.server.mcpserver import MCPServer

from tests.mcp_servers.notes_server import ServerKnobs, ServerStats, build_server
from voice_mcp.services.catalog import ServiceConfig

HttpTransport = Literal["streamable-http", "sse"]
ASGIApp = Callable[..., Any]
START_TIMEOUT_S = 10.0


class BearerGate:
    """ASGI middleware: count HTTP requests and, when a token is set, answer 401 without it."""

    def __init__(self, app: ASGIApp, stats: ServerStats, token: str | None) -> None:
        self.app = app
        self.stats = stats
        self.token = token

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            self.stats.record(_count_http)
            expected = f"Bearer {self.token}".encode() if self.token else None
            if expected is not None and dict(scope["headers"]).get(b"authorization") != expected:
                self.stats.record(_count_unauthorized)
                await send({"type": "http.response.start", "status": 401, "headers": [
                    (b"content-type", b"application/json"),
                    (b"www-authenticate", b'Bearer error="invalid_token"')]})
                await send({"type": "http.response.body", "body": b'{"error":"invalid_token"}'})
                return
        await self.app(scope, receive, send)


def _count_http(stats: ServerStats) -> None:
    stats.http_requests += 1


def _count_unauthorized(stats: ServerStats) -> None:
    stats.unauthorized += 1


def asgi_app(server: MCPServer, transport: HttpTransport) -> ASGIApp:
    if transport == "sse":
        return server.sse_app()
    return server.streamable_http_app()


class _Uvicorn(uvicorn.Server):
    """uvicorn that says when it is listening and stops when told, instead of polling."""

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self.ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop = asyncio.Event()

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        self._loop = asyncio.get_running_loop()
        await super().startup(sockets)
        self.ready.set()

    async def main_loop(self) -> None:
        if not self.should_exit:
            await self._stop.wait()

    def request_stop(self) -> None:
        """Ask the server, from another thread, to shut down."""
        self.should_exit = True
        if self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._stop.set)


def _listening_socket(port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    sock.listen(128)
    return sock


@dataclass
class RunningServer:
    """A notes server on a loopback port; `stats` survive restarts, the notes do not."""

    transport: HttpTransport
    token: str | None = None
    stats: ServerStats = field(default_factory=ServerStats)
    knobs: ServerKnobs = field(default_factory=ServerKnobs)
    port: int = 0
    token_env: str | None = None  # where the app finds `token`, for `service()`
    build: Callable[[ServerStats, ServerKnobs], MCPServer] = build_server
    _server: _Uvicorn | None = None
    _thread: threading.Thread | None = None
    gate: BearerGate | None = None

    @property
    def url(self) -> str:
        """The MCP endpoint: `/mcp` for Streamable HTTP, `/sse` for the legacy transport."""
        return f"http://127.0.0.1:{self.port}/{'sse' if self.transport == 'sse' else 'mcp'}"

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def service(self, service_id: str = "notes_http", **fields: Any) -> ServiceConfig:
        """A catalog entry for this server (bearer auth when it has a token variable)."""
        if self.token_env is not None:
            fields = {"auth": "bearer", "token_env": self.token_env, **fields}
        fields = {"title": f"Notes ({self.transport})", **fields}
        return ServiceConfig(id=service_id, transport=self.transport, url=self.url, **fields)

    def set_token(self, token: str | None) -> None:
        """Change the token the server accepts, effective for the next request."""
        self.token = token
        if self.gate is not None:
            self.gate.token = token

    def start(self) -> RunningServer:
        """Listen (on the same port as before, after a stop) with fresh server state."""
        sock = _listening_socket(self.port)
        self.port = sock.getsockname()[1]
        self.knobs.notes.clear()
        self.knobs.notes.update(ServerKnobs().notes)
        self.gate = BearerGate(asgi_app(self.build(self.stats, self.knobs), self.transport),
                               self.stats, self.token)
        # Open event streams never end by themselves: cut them soon after a stop. uvicorn
        # types the grace period as int but waits with asyncio, which takes a float.
        config = uvicorn.Config(self.gate, log_level="warning", log_config=None, lifespan="on",
                                timeout_graceful_shutdown=0.2)  # type: ignore[arg-type]
        server = _Uvicorn(config)

        def run() -> None:
            try:
                server.run(sockets=[sock])
            finally:
                server.ready.set()  # a failed start must not leave start() waiting
                sock.close()

        self._server, self._thread = server, threading.Thread(target=run, daemon=True,
                                                              name=f"mcp-{self.transport}")
        self._thread.start()
        if not server.ready.wait(START_TIMEOUT_S) or not server.started:
            raise RuntimeError(f"the {self.transport} test server did not start")
        return self

    def stop(self) -> None:
        """Stop listening and cut open streams (clients see the connection drop)."""
        if self._server is None or self._thread is None:
            return
        self._server.request_stop()
        self._thread.join(START_TIMEOUT_S)
        self._server = self._thread = None

    def restart(self) -> None:
        self.stop()
        self.start()


def start_notes_server(transport: HttpTransport = "streamable-http",
                       token: str | None = None) -> RunningServer:
    """Start a notes server in a thread; call `.stop()` when done."""
    return RunningServer(transport, token).start()


def serve_forever(server: MCPServer, transport: HttpTransport, port: int,
                  token: str | None) -> None:
    """Serve in the foreground (for `python -m tests.mcp_servers.notes_server --transport ...`)."""
    app = BearerGate(asgi_app(server, transport), ServerStats(), token)
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning")
