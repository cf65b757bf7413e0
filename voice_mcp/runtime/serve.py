"""One server process: listen, serve, and on SIGTERM or SIGINT drain before exiting.

docs/operations.md, "Graceful drain": the first signal starts the drain (readiness 503,
new commands 503 `draining`, running ones get `VOICE_MCP_DRAIN_S`), then the listener
closes and every resource (embedded Redis, MCP stdio servers) is shut down in order.
A second signal skips what is left of the drain.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import socket

from aiohttp import web

from voice_mcp.settings import Settings
from voice_mcp.web import keys

log = logging.getLogger(__name__)
SIGNALS = (signal.SIGTERM, signal.SIGINT)


async def serve(app: web.Application, settings: Settings, sock: socket.socket) -> None:
    """Serve `app` on the bound `sock` until a signal, then drain it and clean up."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    main = asyncio.current_task()
    assert main is not None

    def second_signal() -> None:
        log.warning("second signal: stopping now")
        main.cancel()

    def first_signal() -> None:
        stop.set()
        for sig in SIGNALS:
            loop.add_signal_handler(sig, second_signal)

    for sig in SIGNALS:
        loop.add_signal_handler(sig, first_signal)
    # handler_cancellation: a client that goes away cancels its command's LLM and tool calls.
    runner = web.AppRunner(app, access_log=None, handler_cancellation=True, shutdown_timeout=5)
    await runner.setup()
    try:
        await web.SockSite(runner, sock).start()
        await stop.wait()
        await app[keys.LIFECYCLE].drain(settings.drain_s)
    finally:
        with contextlib.suppress(asyncio.CancelledError):
            await runner.cleanup()
        for sig in SIGNALS:
            loop.remove_signal_handler(sig)
