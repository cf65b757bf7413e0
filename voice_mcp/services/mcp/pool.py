"""Which session serves a request: one per shared service, one per user for OAuth services."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable

from voice_mcp.services.catalog import ServiceConfig
from voice_mcp.services.mcp.cache import CacheKey
from voice_mcp.services.mcp.failures import TransportFailure
from voice_mcp.services.mcp.session import McpSession

log = logging.getLogger(__name__)

SessionFactory = Callable[[ServiceConfig, CacheKey], McpSession]


class SessionPool:
    """Live sessions by key; a dead or retired one is replaced on the next request."""

    def __init__(self, factory: SessionFactory, *, on_reopen: Callable[[CacheKey], None],
                 idle_timeout_s: float, reconnect_backoff_s: float) -> None:
        self._factory = factory
        self._on_reopen = on_reopen
        self._idle_timeout_s = idle_timeout_s
        self._backoff_s = reconnect_backoff_s
        # Keys whose last connection attempt failed: until when to fail fast, and why.
        self._backoff: dict[CacheKey, tuple[float, str]] = {}
        self._current: dict[CacheKey, McpSession] = {}
        self._opened: set[CacheKey] = set()  # keys that had a session open before
        self._all: set[McpSession] = set()  # includes retired sessions still finishing work
        self._reaper: asyncio.Task[None] | None = None
        self._closed = False

    @property
    def sessions(self) -> list[McpSession]:
        return list(self._all)

    def session_for(self, service: ServiceConfig, user_id: str) -> McpSession:
        """The session to use now, opening a new one when there is none that works."""
        if self._closed:
            raise TransportFailure("the MCP client is shut down", delivered=False)
        key = CacheKey.of(service, user_id)
        session = self._current.get(key)
        if session is not None and session.usable:
            return session
        until, reason = self._backoff.get(key, (0.0, ""))
        if time.monotonic() < until:
            # A service that just failed to connect is not dialled again by every request:
            # a black-holed one would otherwise cost each of them the whole connect timeout.
            raise TransportFailure(reason, delivered=False)
        session = self._factory(service, key)
        self._current[key] = session
        self._all.add(session)
        session.ready_callbacks.append(self._opened_one)
        session.finished_callbacks.append(self._forget)
        if key.user_id is not None and self._reaper is None:
            self._reaper = asyncio.create_task(self._reap_forever(), name="mcp:idle-reaper")
        return session

    async def close_key(self, key: CacheKey) -> None:
        """Close the session of one key (a user disconnected or must re-authorize)."""
        session = self._current.pop(key, None)
        self._opened.discard(key)
        if session is not None:
            await session.aclose()

    async def reap_idle(self, now: float | None = None) -> int:
        """Close per-user sessions idle longer than the idle timeout; returns how many."""
        now = time.monotonic() if now is None else now
        idle = [key for key, session in self._current.items()
                if key.user_id is not None and not session.busy
                and now - session.last_used > self._idle_timeout_s]
        for key in idle:
            session = self._current.pop(key)
            await session.aclose()
        return len(idle)

    async def close(self) -> None:
        """Close every session; stdio children are stopped before this returns."""
        self._closed = True
        if self._reaper is not None:
            self._reaper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reaper
        self._current.clear()
        sessions = list(self._all)
        await asyncio.gather(*(s.aclose() for s in sessions))

    def _opened_one(self, session: McpSession) -> None:
        key = CacheKey(session.service.id, session.user_id)
        self._backoff.pop(key, None)
        if key in self._opened:
            # The server may have changed (a restart, a deploy): its tools may have too.
            self._on_reopen(key)
        self._opened.add(key)

    def _forget(self, session: McpSession) -> None:
        self._all.discard(session)
        key = CacheKey(session.service.id, session.user_id)
        if session.open_failure is not None and self._backoff_s > 0:
            self._backoff[key] = (time.monotonic() + self._backoff_s, session.open_failure)
        if self._current.get(key) is session:
            del self._current[key]

    async def _reap_forever(self) -> None:
        interval = max(self._idle_timeout_s / 2, 1.0)
        while True:
            await asyncio.sleep(interval)
            try:
                await self.reap_idle()
            except Exception as err:  # the reaper must outlive one bad close
                log.warning("closing idle MCP sessions failed",
                            extra={"error_type": type(err).__name__})
