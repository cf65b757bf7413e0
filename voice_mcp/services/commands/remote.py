"""Read a command run by another instance from its Redis Stream, and notice when it died.

The reader replays the stream after the client's last id, then blocks on XREAD for live
events until the `done` event. While it waits it keeps itself in the command's reader set
(so the owner does not cancel a command someone still watches) and checks the owner's lease:
a lease gone while the command still runs means the owner died, and one Lua script writes
`error instance_lost` and `done failed` to the stream, so of many readers only one does it
and all of them read the same two events.
"""

from __future__ import annotations

import contextlib
import json
import logging
import secrets
import time
from collections.abc import AsyncGenerator
from typing import Any

from redis.commands.core import AsyncScript
from redis.exceptions import RedisError

from voice_mcp.services.commands.models import CommandEvent
from voice_mcp.services.commands.recorder import MAX_EVENTS
from voice_mcp.services.commands.redis_keys import CommandKeys
from voice_mcp.services.store import Redis

log = logging.getLogger(__name__)
BLOCK_MS = 2000
READER_TTL_MS = 10_000
BATCH = 200

# KEYS: meta, events, lease, readers. ARGV: ended ttl s, max events.
# Returns 1 when it declared the command lost, 0 when nothing was to be done, -1 when the
# command's record is gone (expired, or Redis lost its data).
LOST_SCRIPT = """
if redis.call('EXISTS', KEYS[3]) == 1 then return 0 end
local status = redis.call('HGET', KEYS[1], 'status')
if not status then return -1 end
if status ~= 'running' then return 0 end
local last = redis.call('XREVRANGE', KEYS[2], '+', '-', 'COUNT', 1)
local seq = 0
if #last > 0 then seq = tonumber(string.match(last[1][1], '^(%d+)')) end
local err = redis.call('HGET', KEYS[1], 'lost_error')
local done = redis.call('HGET', KEYS[1], 'lost_done')
redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[2], (seq + 1) .. '-0', 'k', 'error', 'd', err)
redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[2], (seq + 2) .. '-0', 'k', 'done', 'd', done)
redis.call('HSET', KEYS[1], 'status', 'failed', 'done', done)
redis.call('EXPIRE', KEYS[1], ARGV[1])
redis.call('EXPIRE', KEYS[2], ARGV[1])
redis.call('DEL', KEYS[4])
return 1
"""


def parse_entry(entry_id: bytes, fields: dict[bytes, bytes]) -> CommandEvent:
    """A stream entry `<seq>-0 k=<kind> d=<json>` as an event."""
    seq = int(entry_id.split(b"-", 1)[0])
    return CommandEvent(seq, fields[b"k"].decode(), json.loads(fields[b"d"]))


async def last_seq(redis: Redis, keys: CommandKeys) -> int:
    """The sequence number of the newest stored event (0 when none)."""
    newest: Any = await redis.xrevrange(keys.events, count=1)
    return int(newest[0][0].split(b"-", 1)[0]) if newest else 0


async def follow_remote(redis: Redis, keys: CommandKeys, after: int, lost: AsyncScript,
                        ended_ttl_s: int) -> AsyncGenerator[CommandEvent, None]:
    """Events after `after` from Redis, then live ones, until exactly one `done`.

    When Redis fails or forgets the command, the stream ends without `done`: the client
    reconnects and learns what is true then (503, 404 or 410), rather than a made-up end.
    """
    reader = secrets.token_hex(6)
    try:
        async for event in _read(redis, keys, after, lost, ended_ttl_s, reader):
            yield event
    except (RedisError, OSError) as err:
        log.warning("remote command reader stopped: %s", type(err).__name__)
    finally:
        await _absent(redis, keys, reader)


async def _read(redis: Redis, keys: CommandKeys, after: int, lost: AsyncScript,
                ended_ttl_s: int, reader: str) -> AsyncGenerator[CommandEvent, None]:
    cursor = f"{after}-0"
    heartbeat = 0.0
    while True:
        if time.monotonic() - heartbeat > READER_TTL_MS / 3000:
            heartbeat = time.monotonic()
            await _present(redis, keys, reader)
        reply: Any = await redis.xread({keys.events: cursor}, count=BATCH, block=BLOCK_MS)
        entries = reply[0][1] if reply else []
        for entry_id, fields in entries:
            cursor = entry_id.decode()
            event = parse_entry(entry_id, fields)
            yield event
            if event.kind == "done":
                return
        if not entries and await lost(keys=[keys.meta, keys.events, keys.lease, keys.readers],
                                      args=[ended_ttl_s, MAX_EVENTS]) == -1:
            return


async def _present(redis: Redis, keys: CommandKeys, reader: str) -> None:
    now = int(time.time() * 1000)
    pipe = redis.pipeline(transaction=False)
    pipe.zadd(keys.readers, {reader: now + READER_TTL_MS})
    pipe.zremrangebyscore(keys.readers, "-inf", now)
    pipe.pexpire(keys.readers, READER_TTL_MS * 2)
    await pipe.execute()


async def _absent(redis: Redis, keys: CommandKeys, reader: str) -> None:
    with contextlib.suppress(RedisError, OSError):  # best effort: the entry expires anyway
        await redis.zrem(keys.readers, reader)


async def remote_readers(redis: Redis, keys: CommandKeys) -> int:
    """How many readers on other instances watch this command now."""
    now = int(time.time() * 1000)
    return int(await redis.zcount(keys.readers, now, "+inf"))
