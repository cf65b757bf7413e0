"""The per-user command limit in real Redis: a count per minute window, then 429."""

from __future__ import annotations

import pytest
import redis.asyncio as aioredis

from voice_mcp.errors import RateLimited
from voice_mcp.services.ratelimit import COUNT_SCRIPT, WINDOW_S, CommandRateLimiter


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
             if await redis_client.scard(k) == 3]
    assert WINDOW_S < await redis_client.ttl(key) <= 2 * WINDOW_S  # gone after its window
    for _ in range(3):  # past the limit, refusals are not stored
        with pytest.raises(RateLimited):
            await limiter.check("alice")
    assert await redis_client.scard(key) == 3


async def test_a_retried_count_counts_once(redis_client: aioredis.Redis) -> None:
    """A client retry after a reply lost to a failover carries the same command id."""
    script = redis_client.register_script(COUNT_SCRIPT)
    counts = [await script(keys=["vm:rate:{u}:1"], args=[120, "command-1", 5]) for _ in range(3)]
    assert counts == [1, 1, 1]
    assert await script(keys=["vm:rate:{u}:1"], args=[120, "command-2", 5]) == 2


async def test_zero_means_no_limit(redis_client: aioredis.Redis) -> None:
    limiter = CommandRateLimiter(redis_client, per_minute=0)
    for _ in range(5):
        await limiter.check("alice")
    assert [k async for k in redis_client.scan_iter("vm:rate:*")] == []
