"""A per-user command limit shared by every instance through Redis (one-minute windows)."""

from __future__ import annotations

import secrets
import time

from voice_mcp.errors import RateLimited
from voice_mcp.services.keyspace import user_tagged_key
from voice_mcp.services.store import Redis

WINDOW_S = 60

# KEYS: the window's set of counted commands. ARGV: its TTL, this command's random id, the
# limit. One command, one reply. Counting ids rather than INCR makes a client retry (a reply
# lost to a failover) count the command once; past the limit nothing more is stored, so the
# set never holds more than limit + 1 ids.
COUNT_SCRIPT = """
local count = redis.call('SCARD', KEYS[1])
if redis.call('SISMEMBER', KEYS[1], ARGV[2]) == 1 then return count end
if count > tonumber(ARGV[3]) then return count + 1 end
redis.call('SADD', KEYS[1], ARGV[2])
redis.call('EXPIRE', KEYS[1], ARGV[1])
return count + 1
"""


class WindowCounter:
    """Count a user's requests of one kind per one-minute window, on every instance."""

    def __init__(self, redis: Redis, prefix: str, per_minute: int) -> None:
        self.limit = per_minute
        self._prefix = prefix
        self._count = redis.register_script(COUNT_SCRIPT)

    async def over(self, user_id: str) -> int | None:
        """Count one request; past the limit, the seconds until the next window (else None)."""
        now = time.time()
        window = int(now // WINDOW_S)
        key = user_tagged_key(self._prefix, user_id, str(window))
        count = await self._count(keys=[key], args=[WINDOW_S * 2, secrets.token_hex(8),
                                                    self.limit])
        if int(count) > self.limit:
            return max(1, int((window + 1) * WINDOW_S - now) + 1)
        return None


class CommandRateLimiter:
    """Count each user's commands per minute; past the limit, answer 429 with Retry-After."""

    def __init__(self, redis: Redis, per_minute: int) -> None:
        self._counter = WindowCounter(redis, "vm:rate", per_minute)

    async def check(self, user_id: str) -> None:
        """Count one command for the user, or raise RateLimited when over the limit."""
        limit = self._counter.limit
        if limit <= 0:
            return
        retry_after = await self._counter.over(user_id)
        if retry_after is not None:
            raise RateLimited(f"Too many commands: at most {limit} a minute.",
                              retry_after=retry_after)
