"""Share the offline recogniser fairly: a small pool of decoders, and bounds per user.

One decoder behind one lock let one user's long recording hold up everyone's commands. Now
a user has at most `per_user` recordings in work at once (more: 429), uses at most one
decoder at a time (a second recording waits for the user's own first), and the process
runs at most `size` decoders, each loaded when first needed (about 30 MiB each).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Generic, TypeVar

from voice_mcp.errors import TranscriptionFailed

T = TypeVar("T")


class DecoderPool(Generic[T]):
    """Up to `size` decoders, built by `load` (in a thread) when all the built ones are busy."""

    def __init__(self, size: int, load: Callable[[], T]) -> None:
        self.size = size
        self.built = 0
        self._load = load
        self._free: list[T] = []
        self._changed = asyncio.Condition()

    async def warm(self) -> None:
        """Build the first decoder now rather than on the first recording."""
        async with self.lease():
            pass

    @asynccontextmanager
    async def lease(self) -> AsyncIterator[T]:
        """A decoder for the duration of the block, given back after."""
        decoder = await self._take()
        try:
            yield decoder
        finally:
            async with self._changed:
                self._free.append(decoder)
                self._changed.notify()

    async def _take(self) -> T:
        async with self._changed:
            while not self._free and self.built >= self.size:
                await self._changed.wait()
            if self._free:
                return self._free.pop()
            self.built += 1  # a place for the one built below, outside the lock
        try:
            return await asyncio.to_thread(self._load)
        except BaseException:
            async with self._changed:
                self.built -= 1
                self._changed.notify()
            raise


class UserSlots:
    """At most `per_user` recordings in work per user (past that: 429), one of them decoding."""

    def __init__(self, per_user: int) -> None:
        self.per_user = per_user
        self._held: dict[str, int] = {}
        self._turns: dict[str, asyncio.Lock] = {}

    @asynccontextmanager
    async def admit(self, user: str) -> AsyncIterator[None]:
        """Count a recording against its user for the duration of the block."""
        held = self._held.get(user, 0)
        if held >= self.per_user:
            raise TranscriptionFailed(
                f"Already transcribing {held} of your recordings: wait for them to finish.",
                code="too_many_recordings", status=429, retryable=True)
        self._held[user] = held + 1
        if held == 0:
            self._turns[user] = asyncio.Lock()
        try:
            yield
        finally:
            self._held[user] -= 1
            if not self._held[user]:
                del self._held[user], self._turns[user]

    def turn(self, user: str) -> asyncio.Lock:
        """The user's own queue for a decoder (hold `admit` first)."""
        return self._turns[user]
