"""The notes MCP server over stdio, counting what it receives and timing each tool run.

Run as `python -m bench.mcp_server --stats-port N` (the voice server, or the direct-SDK
baseline, starts it as a stdio child). Its counters are served as JSON on
`http://127.0.0.1:N/stats` by a thread, so the benchmark reads them from the MCP side:
handshakes and `tools/list` requests are counted where they arrive, not where they are sent.
`/stats?clear=1` also empties the list of tool run times.
"""

from __future__ import annotations

import argparse
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import anyio
from mcp.server.context import CallNext, HandlerResult, ServerRequestContext

from tests.mcp_servers.notes_server import ServerStats, build_server


class ToolClock:
    """Milliseconds spent inside each `tools/call` handler, in arrival order."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._runs: list[float] = []

    def add(self, ms: float) -> None:
        with self._lock:
            self._runs.append(ms)

    def take(self, clear: bool) -> list[float]:
        with self._lock:
            runs = list(self._runs)
            if clear:
                self._runs.clear()
            return runs


def snapshot(stats: ServerStats, clock: ToolClock, clear: bool) -> dict[str, Any]:
    """The counters as JSON-ready data."""
    return {"methods": dict(stats.methods), "tool_calls": dict(stats.tool_calls),
            "handshakes": stats.handshakes, "tool_ms": clock.take(clear)}


def serve_stats(port: int, stats: ServerStats, clock: ToolClock) -> ThreadingHTTPServer:
    """Answer GET /stats on the loopback port from a daemon thread (stdout is MCP's)."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's naming
            if not self.path.startswith("/stats"):
                self.send_error(404)
                return
            body = json.dumps(snapshot(stats, clock, "clear=1" in self.path)).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - base signature
            return  # nothing on stderr per request

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    threading.Thread(target=server.serve_forever, daemon=True, name="stats").start()
    return server


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stats-port", type=int, required=True)
    args = parser.parse_args()
    stats = ServerStats()
    clock = ToolClock()
    server = build_server(stats)

    async def timed(ctx: ServerRequestContext[Any, Any], call_next: CallNext) -> HandlerResult:
        if ctx.method != "tools/call":
            return await call_next(ctx)
        started = time.perf_counter()
        try:
            return await call_next(ctx)
        finally:
            clock.add((time.perf_counter() - started) * 1000)

    server.middleware.append(timed)
    http = serve_stats(args.stats_port, stats, clock)
    try:
        anyio.run(server.run_stdio_async)
    finally:
        http.shutdown()


if __name__ == "__main__":
    main()
