"""A per-user command limit shared by every instance through Redis (one-minute windows)."""

from __future__ import annotations

import time

from voice_mcp.errors import RateLimited
from voice_mcp.services.keyspace import user_key
from voice_mcp.services.store import Redis

WINDOW_S = 60

# KEYS: the window's counter. ARGV: its TTL. One command, one reply: a MULTI/EXEC pipeline of
# INCR and EXPIRE does the same in one round trip but costs redis-py about twice the CPU, and
# this runs before every command.
COUNT_SCRIPT = """
local count = redis.call('INCR', KEYS[1])
redis.call('EXPIRE', KEYS[1], ARGV[1])
return count
"""


class CommandRateLimiter:
    """Count each user's commands per minute; past the limit, answer 429 with Retry-After."""

    def __init__(self, redis: Redis, per_minute: int) -> None:
        self._limit = per_minute
        self._count = redis.register_script(COUNT_SCRIPT)

    async def check(self, user_id: str) -> None:
        """Count one command for the user, or raise RateLimited when over the limit."""
        if self._limit <= 0:
            return
        now = time.time()
        window = int(now // WINDOW_S)
        key = user_key("vm:rate", user_id, str(window))
        count = await self._count(keys=[key], args=[WINDOW_S * 2])
        if int(count) > self._limit:
            retry_after = max(1, int((window + 1) * WINDOW_S - now) + 1)
            raise RateLimited(f"Too many commands: at most {self._limit} a minute.",
                              retry_after=retry_after)
