"""Which client `VOICE_MCP_REDIS_CLUSTER` builds (docs/operations.md, "Redis Cluster")."""

from __future__ import annotations

import pytest
from redis.asyncio import Redis
from redis.asyncio.cluster import RedisCluster
from redis.asyncio.connection import SSLConnection

from voice_mcp.services.store import RETRIES, make_pool, redis_for
from voice_mcp.settings import ConfigError, Settings


async def test_cluster_mode_builds_the_cluster_client_with_tls_and_retries() -> None:
    settings = Settings(_env_file=None, redis_url="rediss://:pw@node-1.example.com:6380/0",
                        redis_cluster=True)
    client = make_pool(settings.redis_url or "", cluster=settings.redis_cluster)
    try:
        assert isinstance(client, RedisCluster)
        # The one node named; the others come from CLUSTER SLOTS once it answers.
        [node] = client.nodes_manager.startup_nodes.values()
        assert (node.host, node.port) == ("node-1.example.com", 6380)
        assert node.connection_class is SSLConnection
        assert client.retry.get_retries() == RETRIES
    finally:
        await client.aclose()


async def test_single_mode_keeps_the_plain_client() -> None:
    client = make_pool("redis://127.0.0.1:1/0")
    try:
        assert isinstance(client, Redis)
        assert client.get_retry().get_retries() == RETRIES  # type: ignore[union-attr]
    finally:
        await client.aclose()


async def test_cluster_mode_needs_a_url() -> None:
    with pytest.raises(ConfigError, match="VOICE_MCP_REDIS_URL"):
        async with redis_for(None, cluster=True):
            pass
    with pytest.raises(ValueError, match="VOICE_MCP_REDIS_CLUSTER: needs VOICE_MCP_REDIS_URL"):
        Settings(_env_file=None, redis_cluster=True)
