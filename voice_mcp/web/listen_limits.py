"""The open listen sockets: how many each user holds, and closing them all at shutdown."""

from __future__ import annotations

import contextlib
import weakref
from collections.abc import Iterator

from aiohttp import WSCloseCode, web

SOCKETS_PER_USER = 2


class TooManySockets(Exception):
    """The user already holds the most sockets allowed."""


class SocketCount:
    """At most `per_user` open sockets per user, counted while the block runs."""

    def __init__(self, per_user: int = SOCKETS_PER_USER) -> None:
        self.per_user = per_user
        self._open: dict[str, int] = {}
        self._sockets: weakref.WeakSet[web.WebSocketResponse] = weakref.WeakSet()

    @contextlib.contextmanager
    def hold(self, user_id: str, ws: web.WebSocketResponse) -> Iterator[None]:
        held = self._open.get(user_id, 0)
        if held >= self.per_user:
            raise TooManySockets
        self._open[user_id] = held + 1
        self._sockets.add(ws)
        try:
            yield
        finally:
            self._sockets.discard(ws)
            self._open[user_id] -= 1
            if not self._open[user_id]:
                del self._open[user_id]

    async def close_all(self) -> None:
        """Tell every client the server is going away (their commands finish or drain)."""
        for ws in list(self._sockets):
            await ws.close(code=WSCloseCode.GOING_AWAY, message=b"The server is stopping.")
