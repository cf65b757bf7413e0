"""Connection failures of MCP sessions, reduced to short reasons safe to show anyone."""

from __future__ import annotations

import errno
from collections.abc import Iterator

import anyio
import httpx2
from mcp.shared.exceptions import MCPError
from mcp.types import CONNECTION_CLOSED, INVALID_REQUEST, REQUEST_TIMEOUT

from voice_mcp.errors import AppError

REASON_LIMIT = 200


class TransportFailure(Exception):
    """The connection to a service failed, as opposed to the tool failing.

    `delivered` is False only when the request surely never reached the server, and
    `was_ready` says whether the session had been working before: only a session that
    went bad (not one that never came up) is worth re-opening and retrying on at once.
    """

    def __init__(self, reason: str, *, delivered: bool, was_ready: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.delivered = delivered
        self.was_ready = was_ready


def short(text: str, limit: int = REASON_LIMIT) -> str:
    """One line, cut to `limit` characters, for reasons and error strings."""
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 1] + "…"


def leaves(exc: BaseException) -> Iterator[BaseException]:
    """The exceptions inside (possibly nested) exception groups, or the exception itself."""
    if isinstance(exc, BaseExceptionGroup):
        for inner in exc.exceptions:
            yield from leaves(inner)
    else:
        yield exc


def app_error_in(exc: BaseException) -> AppError | None:
    """The first coded app error (e.g. reauth_required) buried in `exc`, if any."""
    return next((e for e in leaves(exc) if isinstance(e, AppError)), None)


_GONE_WORDS = ("not found", "terminated", "expired", "unknown", "invalid")


def is_session_gone(exc: MCPError) -> bool:
    """True when a Streamable HTTP server no longer knows our session (it restarted).

    Servers say so with a 404 whose body varies: the Python SDK's client reports
    "Session terminated", its server "Session not found" (-32600), the TypeScript
    server "Session not found" with -32001.
    """
    message = exc.error.message.lower()
    return (exc.error.code in (INVALID_REQUEST, REQUEST_TIMEOUT) and "session" in message
            and any(word in message for word in _GONE_WORDS))


def is_connection_closed(exc: MCPError) -> bool:
    return exc.error.code == CONNECTION_CLOSED


def describe(exc: BaseException) -> tuple[str, bool]:
    """A short reason for a connection-level failure, and whether a request may have got through."""
    found = list(leaves(exc))
    for leaf in found:
        if isinstance(leaf, TransportFailure):
            return leaf.reason, leaf.delivered
    for leaf in found:
        if isinstance(leaf, httpx2.ConnectTimeout):
            return "connection timed out", False
        if isinstance(leaf, httpx2.ConnectError | ConnectionRefusedError):
            return "connection refused", False
        if isinstance(leaf, OSError) and leaf.errno == errno.ECONNREFUSED:
            return "connection refused", False
        if isinstance(leaf, httpx2.HTTPStatusError):
            return f"HTTP {leaf.response.status_code}", False
        if isinstance(leaf, FileNotFoundError | PermissionError):
            return "the server command could not be started", False
    for leaf in found:
        if isinstance(leaf, MCPError):
            if is_connection_closed(leaf):
                return "the server closed the connection", True
            return short(f"protocol error: {leaf.error.message}"), True
        if isinstance(leaf, httpx2.TimeoutException):
            return "the connection timed out", True
        if isinstance(leaf, httpx2.TransportError | OSError | anyio.BrokenResourceError
                      | anyio.ClosedResourceError | anyio.EndOfStream):
            return "the connection was lost", True
    return f"unexpected error ({type(found[0]).__name__})", True
