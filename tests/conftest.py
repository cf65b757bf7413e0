"""Shared fixtures: a private redis-server for the whole session, never the shared one."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Iterator

import pytest
import redis.asyncio as aioredis

from voice_mcp.services.store import EmbeddedRedis, start_embedded_redis

os.environ.setdefault("AUTHLIB_INSECURE_TRANSPORT", "1")


@pytest.fixture(scope="session")
def redis_server() -> Iterator[EmbeddedRedis]:
    """Start one redis-server on a free port for the test session."""
    loop = asyncio.new_event_loop()
    server = loop.run_until_complete(start_embedded_redis())
    try:
        yield server
    finally:
        loop.run_until_complete(server.stop())
        loop.close()


@pytest.fixture
async def redis_url(redis_server: EmbeddedRedis) -> AsyncIterator[str]:
    """A clean database on the private server for each test."""
    client = aioredis.Redis.from_url(redis_server.url)
    await client.flushdb()
    await client.aclose()
    yield redis_server.url


@pytest.fixture
async def redis_client(redis_url: str) -> AsyncIterator[aioredis.Redis]:
    client = aioredis.Redis.from_url(redis_url)
    yield client
    await client.aclose()
