"""A per-user command limit shared by every instance through Redis (one-minute windows)."""

from __future__ import annotations

import time

from voice_mcp.errors import RateLimited
from voice_mcp.services.keyspace import user_key
from voice_mcp.services.store import Redis

WINDOW_S = 60


class CommandRateLimiter:
    """Count each user's commands per minute; past the limit, answer 429 with Retry-After."""

    def __init__(self, redis: Redis, per_minute: int) -> None:
        self._redis = redis
        self._limit = per_minute

    async def check(self, user_id: str) -> None:
        """Count one command for the user, or raise RateLimited when over the limit."""
        if self._limit <= 0:
            return
        now = time.time()
        window = int(now // WINDOW_S)
        key = user_key("vm:rate", user_id, str(window))
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.incr(key)
            pipe.expire(key, WINDOW_S * 2)
            count, _ = await pipe.execute()
        if int(count) > self._limit:
            retry_after = max(1, int((window + 1) * WINDOW_S - now) + 1)
            raise RateLimited(f"Too many commands: at most {self._limit} a minute.",
                              retry_after=retry_after)
