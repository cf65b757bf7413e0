"""Which command the running code belongs to, for a question asked deep in an MCP call.

The registry sets the scope around a command's task; everything the command starts (the
orchestrator's tasks, its tool calls) inherits it. The clocks are the deadlines a question
pauses: the user's thinking time is not the tool's or the command's.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass, field


@dataclass
class AskScope:
    """One command: its id and the deadlines that stop while its user is asked."""

    command_id: str
    clocks: list[asyncio.Timeout] = field(default_factory=list)

    @contextlib.contextmanager
    def paused(self, extra: list[asyncio.Timeout] | None = None) -> Iterator[None]:
        """Stop every clock for the block; each resumes with the time it had left."""
        loop = asyncio.get_running_loop()
        left: list[tuple[asyncio.Timeout, float]] = []
        for clock in [*self.clocks, *(extra or [])]:
            when = clock.when()
            if when is not None and not clock.expired():
                left.append((clock, when - loop.time()))
                clock.reschedule(None)
        try:
            yield
        finally:
            for clock, remaining in left:
                if not clock.expired():
                    clock.reschedule(loop.time() + max(remaining, 0.0))


_SCOPE: ContextVar[AskScope | None] = ContextVar("voice_mcp_ask_scope", default=None)


def current_scope() -> AskScope | None:
    """The scope of the command running here, if any."""
    return _SCOPE.get()


@contextlib.contextmanager
def ask_scope(command_id: str) -> Iterator[AskScope]:
    """Run the block (and what it starts) as command `command_id`."""
    scope = AskScope(command_id)
    token = _SCOPE.set(scope)
    try:
        yield scope
    finally:
        _SCOPE.reset(token)


@contextlib.contextmanager
def clock(timeout: asyncio.Timeout) -> Iterator[None]:
    """Count `timeout` among the current command's clocks for the block."""
    scope = _SCOPE.get()
    if scope is None:
        yield
        return
    scope.clocks.append(timeout)
    try:
        yield
    finally:
        scope.clocks.remove(timeout)
