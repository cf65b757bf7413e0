"""The commands of every instance: start them here, read, watch or cancel them from anywhere.

A command runs as a task on the instance that received it (see `driver`); its events live in
memory there and in a Redis Stream for everyone else (`recorder`, `remote`). Readers on the
owning instance read memory; readers elsewhere read the stream. See docs/resume.md.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncGenerator, AsyncIterator
from typing import Any

from voice_mcp.errors import BadRequest, Gone, NotFound
from voice_mcp.services import tracing
from voice_mcp.services.asking.scope import ask_scope
from voice_mcp.services.commands.cancel_bus import relay_cancel
from voice_mcp.services.commands.driver import WireEvent, drive
from voice_mcp.services.commands.feeds import Feeds
from voice_mcp.services.commands.ids import is_command_id, new_command_id
from voice_mcp.services.commands.models import (
    RUNNING,
    CommandEvent,
    CommandInfo,
    CommandView,
    lost_events,
)
from voice_mcp.services.commands.recorder import APPEND_SCRIPT, MAX_EVENTS, Recorder
from voice_mcp.services.commands.redis_keys import CommandKeys
from voice_mcp.services.commands.remote import LOST_SCRIPT, follow_remote, last_seq
from voice_mcp.services.commands.running import RunningCommand
from voice_mcp.services.commands.upkeep import Upkeep
from voice_mcp.services.keyspace import user_part
from voice_mcp.services.store import Redis

log = logging.getLogger(__name__)
NOT_FOUND = "No such command."


class CommandRegistry:
    """Start, follow, inspect and cancel commands (this instance's and the others')."""

    def __init__(self, redis: Redis, instance_id: str, *, grace_s: float, events_ttl_s: int,
                 budget_s: float) -> None:
        self.redis = redis
        self.instance_id = instance_id
        self.events_ttl_s = events_ttl_s
        self.running_ttl_s = int(budget_s * 2 + grace_s) + events_ttl_s
        self.local: dict[str, RunningCommand] = {}
        self._append = redis.register_script(APPEND_SCRIPT)
        self._lost = redis.register_script(LOST_SCRIPT)
        self.upkeep = Upkeep(redis, instance_id, self.local, grace_s)
        self.feeds = Feeds()  # one Redis reader per command followed from here

    async def start(self, info: CommandInfo,
                    events: AsyncIterator[WireEvent]) -> RunningCommand:
        """Run a command in the background, once its record is readable on every instance
        (one Redis round trip: a resume elsewhere must never answer 404 for it)."""
        command_id = new_command_id()
        lost_error, lost_done = lost_events(info, command_id)
        meta = {"user": user_part(info.user_id), "instance": self.instance_id, "status": RUNNING,
                "lost_error": lost_error, "lost_done": lost_done}
        recorder = Recorder(self._append, CommandKeys.of(command_id), meta, self.instance_id,
                            running_ttl_s=self.running_ttl_s, events_ttl_s=self.events_ttl_s)
        trace = tracing.begin_command(command_id, info.user_id, info.conversation_id,
                                      info.query, continues=info.continues)
        running = RunningCommand(command_id, info, recorder)
        running.trace = tracing.carrier(trace)
        meta.update(running.trace)  # a reader on another instance links to it
        try:
            await recorder.create()
        except BaseException:
            if trace is not None:  # refused before it ran: its root span ends here
                trace.root.end()
            raise
        self.local[command_id] = running
        running.task = self.upkeep.spawn(self._run(running, events, trace))
        return running

    async def _run(self, running: RunningCommand, events: AsyncIterator[WireEvent],
                   trace: tracing.CommandTrace | None = None) -> None:
        try:
            # A service's question finds its command by the ask scope.
            with tracing.running(trace), ask_scope(running.id):
                await drive(running, events)
            await running.recorder.drain()
        finally:
            self.local.pop(running.id, None)

    async def attach(self, running: RunningCommand, after: int = 0
                     ) -> AsyncGenerator[CommandEvent, None]:
        """Follow a command of this instance, counted as one of its readers."""
        self.upkeep.joined(running)
        try:
            async for event in running.follow(after):
                yield event
        finally:
            self.upkeep.left(running)

    async def open(self, user_id: str, command_id: str,
                   after: int) -> AsyncIterator[CommandEvent]:
        """Check the id and the owner (raising 400/404/410/429 before any byte is sent)."""
        running = self._local(user_id, command_id)
        if running is not None:
            tracing.link_current(running.trace, "resumed")
            last = len(running.events)
            return self.attach(running, min(after, last - 1 if running.done else last))
        keys = CommandKeys.of(command_id)
        status, _ = await self._stored(user_id, command_id, keys)
        await self._link_reader(keys)
        if status != RUNNING:  # the end is always given again, whatever id the client names
            after = min(after, max(await last_seq(self.redis, keys) - 1, 0))
        # A running command's log in Redis lags its owner by one batch (<= 5 ms): the client
        # may hold an event not yet written, so its id is not clamped to what Redis has.
        return self.feeds.listen(user_id, command_id, after, lambda: follow_remote(
            self.redis, keys, 0, self._lost, self.events_ttl_s))

    async def _link_reader(self, keys: CommandKeys) -> None:
        """With traces on, a reader's request links to the command's trace (its stored context)."""
        if tracing.STATE.enabled:
            stored: Any = await self.redis.hget(keys.meta, "traceparent")
            tracing.link_current({"traceparent": stored.decode()} if stored else None, "resumed")

    async def view(self, user_id: str, command_id: str) -> CommandView:
        """Running, or how the command ended."""
        running = self._local(user_id, command_id)
        if running is not None:
            done = running.events[-1].data if running.done else None
            return CommandView(command_id, str(done["status"]) if done else RUNNING, done)
        status, done = await self._stored(user_id, command_id, CommandKeys.of(command_id))
        return CommandView(command_id, status, done)

    async def cancel(self, user_id: str, command_id: str) -> None:
        """Stop a command wherever it runs; a finished one is left as it is."""
        running = self._local(user_id, command_id)
        if running is not None:
            running.cancel()
            return
        keys = CommandKeys.of(command_id)
        status, _ = await self._stored(user_id, command_id, keys)
        instance: Any = await self.redis.hget(keys.meta, "instance")
        if status == RUNNING and instance:
            await relay_cancel(self.redis, instance.decode(), command_id)

    def cancel_local(self, command_id: str) -> None:
        """A cancel that another instance relayed (the owner was checked there)."""
        running = self.local.get(command_id)
        if running is not None:
            running.cancel()

    def _local(self, user_id: str, command_id: str) -> RunningCommand | None:
        if not is_command_id(command_id):
            raise BadRequest("commandId: not a valid id.", code="invalid_command_id")
        running = self.local.get(command_id)
        if running is not None and running.info.user_id != user_id:
            raise NotFound(NOT_FOUND, code="command_not_found")
        return running

    async def _stored(self, user_id: str, command_id: str,
                      keys: CommandKeys) -> tuple[str, dict[str, Any] | None]:
        """Status and done payload from Redis; 404 for another user's or unknown, 410 expired."""
        user, status, done, lease, tombstone = await self._read_meta(keys)
        if user is None:
            if tombstone == user_part(user_id):
                raise Gone("This command's events have expired.", code="command_expired")
            raise NotFound(NOT_FOUND, code="command_not_found")
        if user != user_part(user_id):
            raise NotFound(NOT_FOUND, code="command_not_found")
        if status == RUNNING and not lease:
            # The owner died (or another reader just said so): read the end it was given.
            await self._lost(keys=[keys.meta, keys.events, keys.lease, keys.readers],
                             args=[self.events_ttl_s, MAX_EVENTS])
            _, status, done, _, _ = await self._read_meta(keys)
        return status or RUNNING, json.loads(done) if done else None

    async def _read_meta(self, keys: CommandKeys) -> tuple[str | None, str | None, bytes | None,
                                                            bool, str | None]:
        """The record, the lease and the tombstone, read at one instant (MULTI): read one by
        one, a first write landing in between made a just-started command look expired."""
        pipe = self.redis.pipeline(transaction=True)
        pipe.hmget(keys.meta, "user", "status", "done")
        pipe.exists(keys.lease)
        pipe.get(keys.tombstone)
        (user, status, done), lease, tombstone = await pipe.execute()
        return (user.decode() if user else None, status.decode() if status else None, done,
                bool(lease), tombstone.decode() if tombstone else None)
