"""Append a command's events to its Redis Stream without making the live path wait.

`append` is synchronous: it queues the event and makes sure one flush task is running. The
flush task sends everything queued so far in one Lua call (the record and the lease on the
first round, then a batch of XADDs with the command's own sequence as the stream id), so a
burst of events costs one round trip, and nothing is appended to a command that a reader
elsewhere already ended (owner lost). When Redis fails the recorder stops for good: the live
readers on this instance still get every event from memory, and a partial log is worse than
none (readers elsewhere then see the command as unknown, or lost). A failure that a failover
explains (no connection, cluster down) is retried for a few seconds first: the script skips
what it already wrote, and the owner's lease outlives the wait.
"""

from __future__ import annotations

import asyncio
import json
import logging

from redis.commands.core import AsyncScript
from redis.exceptions import RedisError

from voice_mcp.services.commands.models import CommandEvent
from voice_mcp.services.commands.redis_keys import CommandKeys
from voice_mcp.services.store import RETRY_ON

log = logging.getLogger(__name__)

LEASE_MS = 10_000
MAX_EVENTS = 2000
TOMBSTONE_S = 86_400
BATCH_WINDOW_S = 0.005
PATIENCE_S = 6.0  # below LEASE_MS: readers elsewhere must not take a failover for a dead owner
PAUSE_S = 0.25

# KEYS: meta, events, lease, readers, tombstone (one hash tag: the command's).
# ARGV: instance, lease ms, running ttl s, ended ttl s, max events, tombstone ttl s, batch JSON
# ({"meta": {...} on the first batch, "events": [[seq, kind, data], ...], "status": done's}).
# Nothing is written once the command is no longer running (ended, or declared lost). The
# record keeps the last sequence written, so a batch the client sends again (its reply was
# lost to a failover) skips what is already there: retrying it is safe.
APPEND_SCRIPT = """
local batch = cjson.decode(ARGV[7])
local status = redis.call('HGET', KEYS[1], 'status')
local last = tonumber(redis.call('HGET', KEYS[1], 'seq') or '0')
if not status then
  if type(batch.meta) ~= 'table' then return 0 end  -- the record is gone (expired, lost)
  for field, value in pairs(batch.meta) do redis.call('HSET', KEYS[1], field, value) end
  redis.call('SET', KEYS[3], ARGV[1], 'PX', ARGV[2])
  redis.call('SET', KEYS[5], batch.meta.user, 'EX', ARGV[6])
elseif status ~= 'running' then
  -- ended: by this very batch, sent again (all written), or by a reader declaring it lost
  local final = batch.events[#batch.events]
  if final and tonumber(final[1]) <= last then return 1 end
  return 0
end
for _, event in ipairs(batch.events) do
  if tonumber(event[1]) > last then
    last = tonumber(event[1])
    redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[5], event[1] .. '-0',
               'k', event[2], 'd', event[3])
    if event[2] == 'done' then
      redis.call('HSET', KEYS[1], 'status', batch.status, 'done', event[3], 'seq', last)
      redis.call('EXPIRE', KEYS[1], ARGV[4])
      redis.call('EXPIRE', KEYS[2], ARGV[4])
      redis.call('DEL', KEYS[3], KEYS[4])
      return 1
    end
  end
end
redis.call('HSET', KEYS[1], 'seq', last)
redis.call('EXPIRE', KEYS[1], ARGV[3])
redis.call('EXPIRE', KEYS[2], ARGV[3])
return 1
"""


class Recorder:
    """The write side of one command's log in Redis."""

    def __init__(self, script: AsyncScript, keys: CommandKeys, meta: dict[str, str],
                 instance_id: str, *, running_ttl_s: int, events_ttl_s: int) -> None:
        self.keys = keys
        self.instance_id = instance_id
        self.running_ttl_s = running_ttl_s
        self.events_ttl_s = events_ttl_s
        self.broken = False
        self.created = False
        self._meta: dict[str, str] | None = meta
        self._queue: list[CommandEvent] = []
        self._task: asyncio.Task[None] | None = None
        self._script = script

    async def create(self) -> None:
        """Write the record and the lease now, before the command's first event exists, so
        every instance can read the command as soon as its id is known (docs/resume.md).
        A Redis failure here refuses the command (503): nothing has been sent yet; a failover's
        short burst of connection errors is waited out, as for every write of the log."""
        deadline = asyncio.get_running_loop().time() + PATIENCE_S
        while True:
            try:
                await self._write([])
                break
            except tuple(RETRY_ON):
                if asyncio.get_running_loop().time() > deadline:
                    raise
            await asyncio.sleep(PAUSE_S)
        self.created = True

    def append(self, event: CommandEvent) -> None:
        """Queue an event; a background flush writes it (never awaited by the caller)."""
        if self.broken:
            return
        self._queue.append(event)
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._flush())

    async def drain(self) -> None:
        """Wait until everything queued so far is written (or the recorder broke)."""
        while self._task is not None and not self._task.done():
            await asyncio.shield(self._task)

    async def _flush(self) -> None:
        while self._queue and not self.broken:
            if self._queue[-1].kind != "done":
                # Gather what the command emits in the next moments into one round trip.
                await asyncio.sleep(BATCH_WINDOW_S)
            batch, self._queue = self._queue, []
            written = await self._write_patiently(batch)
            if not written:
                # Redis failed, or a reader already declared this command lost: stop writing.
                self.broken = True
                return
            self.created = True

    async def _write_patiently(self, batch: list[CommandEvent]) -> bool:
        deadline = asyncio.get_running_loop().time() + PATIENCE_S
        while True:
            try:
                return await self._write(batch)
            except tuple(RETRY_ON) as err:
                if asyncio.get_running_loop().time() > deadline:
                    log.warning("command log stopped: %s", type(err).__name__)
                    return False
            except (RedisError, OSError) as err:
                log.warning("command log stopped: %s", type(err).__name__)
                return False
            await asyncio.sleep(PAUSE_S)

    async def _write(self, batch: list[CommandEvent]) -> bool:
        done = next((e for e in batch if e.kind == "done"), None)
        args = {"meta": self._meta, "events": [[str(e.seq), e.kind, e.json()] for e in batch],
                "status": str(done.data.get("status", "failed")) if done else ""}
        keys = self.keys
        result = await self._script(
            keys=[keys.meta, keys.events, keys.lease, keys.readers, keys.tombstone],
            args=[self.instance_id, LEASE_MS, self.running_ttl_s, self.events_ttl_s,
                  MAX_EVENTS, TOMBSTONE_S, json.dumps(args, separators=(",", ":"))])
        self._meta = None  # written: a batch sent again after a failure carries it again
        return bool(result)
