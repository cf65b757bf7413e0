"""The per-user command limit in real Redis: a count per minute window, then 429."""

from __future__ import annotations

import pytest
import redis.asyncio as aioredis

from voice_mcp.errors import RateLimited
from voice_mcp.services.ratelimit import WINDOW_S, CommandRateLimiter


async def test_commands_over_the_limit_are_refused_per_user(redis_client: aioredis.Redis
                                                            ) -> None:
    limiter = CommandRateLimiter(redis_client, per_minute=2)
    await limiter.check("alice")
    await limiter.check("alice")
    with pytest.raises(RateLimited) as caught:
        await limiter.check("alice")
    assert 1 <= (caught.value.retry_after or 0) <= WINDOW_S + 1
    await limiter.check("bob")  # counted apart
    [key] = [k async for k in redis_client.scan_iter("vm:rate:*")
             if int(await redis_client.get(k) or 0) == 3]
    assert WINDOW_S < await redis_client.ttl(key) <= 2 * WINDOW_S  # gone after its window


async def test_zero_means_no_limit(redis_client: aioredis.Redis) -> None:
    limiter = CommandRateLimiter(redis_client, per_minute=0)
    for _ in range(5):
        await limiter.check("alice")
    assert [k async for k in redis_client.scan_iter("vm:rate:*")] == []
