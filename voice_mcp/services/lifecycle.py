"""Whether this process still takes commands, and the drain that lets running ones finish.

On SIGTERM the server drains (docs/operations.md): readiness fails at once, new commands
are refused with `503 draining`, and commands in flight get `VOICE_MCP_DRAIN_S` to end.
A command still running at that deadline has its command budget cut to now, so it ends
through the orchestrator's one error path (an `error` event `draining`, then one `done`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterator
from typing import Any

from voice_mcp.errors import ServiceUnavailable

log = logging.getLogger(__name__)

RETRY_AFTER_S = 1


def draining_error() -> ServiceUnavailable:
    """The 503 a new command gets while this process drains; another instance can take it."""
    return ServiceUnavailable("This server is shutting down; retry on another instance.",
                              code="draining", retry_after=RETRY_AFTER_S)


class Lifecycle:
    """Admission of commands, the count of those in flight, and their deadlines."""

    def __init__(self) -> None:
        self._draining = False
        self._expired = False
        self._in_flight = 0
        self._idle = asyncio.Event()
        self._idle.set()
        self._deadlines: set[asyncio.Timeout] = set()

    @property
    def draining(self) -> bool:
        """True once a drain began: readiness fails and new commands are refused."""
        return self._draining

    @property
    def expired(self) -> bool:
        """True once the drain deadline passed and running commands were cut short."""
        return self._expired

    @property
    def in_flight(self) -> int:
        """Command requests plus command runs under way (a command usually counts twice)."""
        return self._in_flight

    @contextlib.contextmanager
    def command(self) -> Iterator[None]:
        """Admit a command request (or raise `503 draining`) and count it until it returns."""
        if self._draining:
            raise draining_error()
        with self._counted():
            yield

    def watch(self, task: asyncio.Task[Any]) -> None:
        """Count a command's run until its task ends: it outlives its request when the client
        leaves (to resume elsewhere), and its last events must reach Redis before we exit."""
        self._enter()
        task.add_done_callback(lambda _task: self._leave())

    @contextlib.contextmanager
    def bounding(self, deadline: asyncio.Timeout) -> Iterator[None]:
        """Let the drain cut this command's budget short (it then ends as `draining`)."""
        if self._expired:
            deadline.reschedule(asyncio.get_running_loop().time())
        self._deadlines.add(deadline)
        try:
            yield
        finally:
            self._deadlines.discard(deadline)

    @contextlib.contextmanager
    def _counted(self) -> Iterator[None]:
        self._enter()
        try:
            yield
        finally:
            self._leave()

    def _enter(self) -> None:
        self._in_flight += 1
        self._idle.clear()

    def _leave(self) -> None:
        self._in_flight -= 1
        if self._in_flight == 0:
            self._idle.set()

    async def drain(self, within_s: float, grace_s: float = 5.0) -> None:
        """Refuse new commands, wait for running ones, then stop those still running."""
        self._draining = True
        log.info("draining: %d command(s) in flight, up to %.0f s", len(self._deadlines),
                 within_s)
        if await self._wait_idle(within_s):
            return
        self._expired = True
        now = asyncio.get_running_loop().time()
        for deadline in list(self._deadlines):
            deadline.reschedule(now)
        log.warning("drain deadline: stopped %d command(s)", len(self._deadlines))
        await self._wait_idle(grace_s)

    async def _wait_idle(self, within_s: float) -> bool:
        try:
            async with asyncio.timeout(within_s):
                await self._idle.wait()
        except TimeoutError:
            return False
        return True


def draining_stop() -> ServiceUnavailable:
    """How a command cut short by the drain deadline ends: retryable on another instance."""
    return ServiceUnavailable("The server shut down before this command finished; "
                              "send it again.", code="draining")
