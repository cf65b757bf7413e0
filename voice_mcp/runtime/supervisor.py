"""`serve --workers N`: a parent that keeps N server processes on one port and one Redis.

docs/operations.md, "Worker processes". Each worker is `python -m voice_mcp serve --worker`
in its own session (a terminal's Ctrl-C reaches the parent only, which forwards it once),
binding the port with SO_REUSEPORT so the kernel spreads connections; each has its own MCP
sessions. With no VOICE_MCP_REDIS_URL the parent starts one embedded Redis for all of them.
A worker that dies is restarted with a growing pause; a signal is forwarded to every
worker, and the parent exits 0 once they are gone, the embedded Redis stopped last.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys
import time
from dataclasses import dataclass, field

from voice_mcp.runtime.startup import state_dir
from voice_mcp.services.store import start_embedded_redis
from voice_mcp.settings import Settings

log = logging.getLogger(__name__)
CONFIG_EXIT = 2  # what `voice-mcp serve` returns for a configuration error: do not restart
STABLE_S = 30.0  # a worker that ran this long resets the restart pause
MAX_PAUSE_S = 30.0
KILL_AFTER_S = 15.0  # beyond the drain: time for a worker's own clean-up


@dataclass
class Pool:
    """The running workers and how the supervision ended."""

    env: dict[str, str]
    stop: asyncio.Event = field(default_factory=asyncio.Event)
    procs: dict[int, asyncio.subprocess.Process] = field(default_factory=dict)
    signal: int = signal.SIGTERM
    exit_code: int = 0


async def supervise(settings: Settings, workers: int) -> int:
    """Run `workers` server processes until a signal; return the exit code."""
    loop = asyncio.get_running_loop()
    async with contextlib.AsyncExitStack() as stack:
        url = settings.redis_url
        if url is None:
            embedded = await start_embedded_redis(home=state_dir(settings))
            stack.push_async_callback(embedded.stop)
            url = embedded.url
        pool = Pool(env={**os.environ, "VOICE_MCP_REDIS_URL": url})

        def on_signal(sig: int) -> None:
            pool.signal = sig
            pool.stop.set()

        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, on_signal, sig)
        slots = [asyncio.create_task(_keep_running(pool, n)) for n in range(workers)]
        log.info("supervising %d workers", workers)
        await pool.stop.wait()
        await _stop_all(pool, settings.drain_s + KILL_AFTER_S)
        await asyncio.gather(*slots)
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)
    return pool.exit_code


async def _keep_running(pool: Pool, slot: int) -> None:
    """Start worker `slot`, and start it again whenever it dies, until the pool stops."""
    pause = 0.5
    while not pool.stop.is_set():
        started = time.monotonic()
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "voice_mcp", "serve", "--worker", env=pool.env,
            start_new_session=True)
        pool.procs[slot] = proc
        if pool.stop.is_set():  # the stop came while this one was starting
            proc.send_signal(pool.signal)
        code = await proc.wait()
        if pool.stop.is_set():
            return
        if code == CONFIG_EXIT:
            log.error("worker %d: configuration error; stopping", slot)
            pool.exit_code = CONFIG_EXIT
            pool.stop.set()
            return
        pause = 0.5 if time.monotonic() - started > STABLE_S else min(pause * 2, MAX_PAUSE_S)
        log.warning("worker %d exited with %s; restarting in %.1f s", slot, code, pause)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(pool.stop.wait(), pause)


async def _stop_all(pool: Pool, within_s: float) -> None:
    """Forward the signal once to every worker; kill any still there after `within_s`."""
    running = [p for p in pool.procs.values() if p.returncode is None]
    for proc in running:
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(pool.signal)
    try:
        async with asyncio.timeout(within_s):
            await asyncio.gather(*(p.wait() for p in running))
    except TimeoutError:
        for proc in running:
            if proc.returncode is None:
                log.error("worker pid %d did not stop; killing it", proc.pid)
                proc.kill()
        await asyncio.gather(*(p.wait() for p in running))
