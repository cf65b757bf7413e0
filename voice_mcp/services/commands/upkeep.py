"""Keep this instance's commands honest: refresh their leases, and apply the grace policy.

Every few seconds one pipeline refreshes the lease of each running command (readers
elsewhere take a missing lease for a dead owner) and counts the remote readers of the
commands nobody here reads. A command with no reader anywhere for `grace_s` is cancelled;
with `grace_s == 0` the last local reader leaving cancels it at once (cancel on disconnect).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Coroutine
from typing import Any

from redis.exceptions import RedisError

from voice_mcp.services.commands.recorder import LEASE_MS
from voice_mcp.services.commands.redis_keys import CommandKeys
from voice_mcp.services.commands.running import RunningCommand
from voice_mcp.services.store import Redis

log = logging.getLogger(__name__)
TICK_S = 3.0
CLOSE_TIMEOUT_S = 5.0


class Upkeep:
    """Leases, reader counts and grace timers of the commands running here."""

    def __init__(self, redis: Redis, instance_id: str, local: dict[str, RunningCommand],
                 grace_s: float) -> None:
        self.redis = redis
        self.instance_id = instance_id
        self.local = local
        self.grace_s = grace_s
        self.tasks: set[asyncio.Task[Any]] = set()

    def spawn(self, work: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        """A background task kept referenced until it ends."""
        task = asyncio.create_task(work)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        return task

    def joined(self, running: RunningCommand) -> None:
        running.readers += 1
        running.idle_since = None

    def left(self, running: RunningCommand) -> None:
        """The last local reader leaving starts the grace period (or cancels, with 0)."""
        running.readers -= 1
        if running.readers > 0 or running.done:
            return
        running.idle_since = time.monotonic()
        if self.grace_s <= 0:
            running.cancel()
            return
        asyncio.get_running_loop().call_later(self.grace_s, self._expire_soon, running)

    def _expire_soon(self, running: RunningCommand) -> None:
        if running.idle_since is not None and not running.done:
            self.spawn(self._check([running]))

    async def run(self) -> None:
        """The tick loop; runs until cancelled."""
        while True:
            await asyncio.sleep(TICK_S)
            commands = [r for r in self.local.values() if not r.done]
            with contextlib.suppress(RedisError, OSError):
                await self._refresh(commands)
            await self._check([r for r in commands if r.idle_since is not None])

    async def _refresh(self, commands: list[RunningCommand]) -> None:
        pipe = self.redis.pipeline(transaction=False)
        for running in commands:
            if running.recorder.created and not running.recorder.broken:
                pipe.set(CommandKeys.of(running.id).lease, self.instance_id, px=LEASE_MS)
        if len(pipe):
            await pipe.execute()

    async def _check(self, idle: list[RunningCommand]) -> None:
        """Cancel the idle commands whose grace ran out and whom no remote reader watches."""
        if not idle:
            return
        now_ms = int(time.time() * 1000)
        watched = [0] * len(idle)
        with contextlib.suppress(RedisError, OSError):  # no Redis: nobody can watch remotely
            pipe = self.redis.pipeline(transaction=False)
            for running in idle:
                pipe.zcount(CommandKeys.of(running.id).readers, now_ms, "+inf")
            watched = [int(n) for n in await pipe.execute()]
        for running, remote in zip(idle, watched, strict=True):
            if running.idle_since is None or running.done:
                continue
            if remote:
                running.idle_since = time.monotonic()
            elif time.monotonic() - running.idle_since >= self.grace_s - 0.05:
                log.info("command cancelled after its grace period")
                running.cancel()

    async def close(self) -> None:
        """Cancel every command and loop still running here, and wait for them."""
        for task in list(self.tasks):
            task.cancel()
        for running in list(self.local.values()):
            running.cancel()
        if self.tasks:
            await asyncio.wait(self.tasks, timeout=CLOSE_TIMEOUT_S)
