"""One Redis reader per followed command on this instance, shared by all its listeners.

Each reader holds a pooled connection while it blocks in XREAD; one reader per listener let
one user with a few hundred open streams take the whole pool, and every Redis call on the
instance then failed for everyone. Now a command followed from here has one reader (a
`Feed`) whatever its listeners, and listeners are capped per user and per command, and
feeds per instance (429 `too_many_readers` past a cap; docs/resume.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from dataclasses import dataclass

from voice_mcp.errors import RateLimited
from voice_mcp.services.commands.models import CommandEvent

log = logging.getLogger(__name__)
PER_USER = 16  # remote listeners of one user on one instance
PER_COMMAND = 16  # remote listeners of one command on one instance
FEEDS = 128  # commands followed from one instance at once (a Redis connection each)

# Reads a command's log from its start until `done` (remote.follow_remote).
Source = Callable[[], AsyncIterator[CommandEvent]]


class Feed:
    """The events of one command read so far, and the task that reads the rest."""

    def __init__(self, source: Source) -> None:
        self.events: list[CommandEvent] = []
        self.ended = False  # read to `done`, or the reader stopped (Redis failed)
        self.listeners = 0
        self._changed = asyncio.Event()
        self._task = asyncio.create_task(self._read(source))

    async def _read(self, source: Source) -> None:
        try:
            async for event in source():
                self.events.append(event)
                self._wake()
        except Exception as err:  # the listeners' streams end without `done`; they reconnect
            log.warning("command feed stopped: %s", type(err).__name__)
        finally:
            self.ended = True
            self._wake()

    def _wake(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    async def follow(self, after: int) -> AsyncGenerator[CommandEvent, None]:
        """The events after `after`, then the live ones, until `done` or the reader's end."""
        index = 0
        while True:
            changed = self._changed
            while index < len(self.events):
                event = self.events[index]
                index += 1
                if event.seq > after:
                    yield event
                if event.kind == "done":
                    return
            if self.ended:
                return
            await changed.wait()

    async def stop(self) -> None:
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task


@dataclass(frozen=True)
class _Place:
    user: str
    command: str


class Feeds:
    """The remote listeners of this instance, and one feed per command they follow."""

    def __init__(self, *, per_user: int = PER_USER, per_command: int = PER_COMMAND,
                 feeds: int = FEEDS) -> None:
        self.per_user, self.per_command, self.max_feeds = per_user, per_command, feeds
        self.feeds: dict[str, Feed] = {}
        self._users: Counter[str] = Counter()

    def listen(self, user: str, command: str, after: int,
               source: Source) -> AsyncIterator[CommandEvent]:
        """A listener's events; its place is taken now (429 past a cap), given back at its end."""
        self._admit(user, command)
        place = _Place(user, command)
        feed = self.feeds.get(command)
        if feed is None or feed.ended:
            feed = self.feeds[command] = Feed(source)
        feed.listeners += 1
        self._users[user] += 1
        return _Listener(self, place, feed, after)

    def _admit(self, user: str, command: str) -> None:
        feed = self.feeds.get(command)
        if self._users[user] >= self.per_user:
            raise _busy(f"You already follow {self.per_user} command streams here.")
        if feed is not None and not feed.ended and feed.listeners >= self.per_command:
            raise _busy(f"This command already has {self.per_command} readers here.")
        if (feed is None or feed.ended) and len(self.feeds) >= self.max_feeds:
            raise _busy("Too many commands are followed on this server; try again shortly.")

    async def leave(self, place: _Place, feed: Feed) -> None:
        """Give the listener's place back; the last listener of a feed stops its reader."""
        self._users[place.user] -= 1
        if self._users[place.user] <= 0:
            del self._users[place.user]
        feed.listeners -= 1
        if feed.listeners == 0:
            if self.feeds.get(place.command) is feed:
                del self.feeds[place.command]
            await feed.stop()

    async def close(self) -> None:
        for feed in list(self.feeds.values()):
            await feed.stop()
        self.feeds.clear()


def _busy(message: str) -> RateLimited:
    return RateLimited(message, code="too_many_readers", retry_after=5)


class _Listener(AsyncIterator[CommandEvent]):
    """A listener's stream; closing it (even unstarted) gives its place back exactly once."""

    def __init__(self, feeds: Feeds, place: _Place, feed: Feed, after: int) -> None:
        self._feeds, self._place, self._feed = feeds, place, feed
        self._events = feed.follow(after)
        self._left = False

    async def __anext__(self) -> CommandEvent:
        try:
            return await anext(self._events)
        except StopAsyncIteration:
            await self._leave()
            raise

    async def aclose(self) -> None:
        await self._events.aclose()
        await self._leave()

    async def _leave(self) -> None:
        if not self._left:
            self._left = True
            await self._feeds.leave(self._place, self._feed)
