"""The Redis store: the embedded server is private, and `VOICE_MCP_REDIS_CLUSTER` picks the
client (docs/security.md; docs/operations.md, "Redis Cluster")."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
import redis.asyncio as aioredis
from redis.asyncio import Redis
from redis.asyncio.cluster import RedisCluster
from redis.asyncio.connection import SSLConnection
from redis.exceptions import AuthenticationError, ResponseError

from voice_mcp.services.store import RETRIES, make_pool, redis_for, start_embedded_redis
from voice_mcp.settings import ConfigError, Settings


async def test_embedded_redis_demands_a_password_kept_in_a_private_file(tmp_path: Path) -> None:
    home = tmp_path / "state"
    server = await start_embedded_redis(home=home)
    try:
        stranger = aioredis.Redis(port=server.port)  # another local account knows the port
        with pytest.raises((AuthenticationError, ResponseError), match="(?i)auth"):
            await stranger.set("vm:x", "rewritten")
        await stranger.aclose()
        owner = aioredis.Redis.from_url(server.url)
        assert await owner.ping()
        await owner.aclose()

        [folder] = home.iterdir()
        config = folder / "redis.conf"
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700
        assert stat.S_IMODE(config.stat().st_mode) == 0o600
        assert server.password in config.read_text()
        cmdline = Path(f"/proc/{server.process.pid}/cmdline").read_bytes()
        assert server.password.encode() not in cmdline, "ps shows command lines to everyone"
        other = await start_embedded_redis(home=home)
        assert other.password != server.password, "a fresh password for every start"
        await other.stop()
    finally:
        await server.stop()
    assert not folder.exists(), "the password file goes with the server"


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
