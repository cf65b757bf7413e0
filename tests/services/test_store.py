"""The embedded Redis: nobody but this server (and its own account) can read or write it."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
import redis.asyncio as aioredis
from redis.exceptions import AuthenticationError, ResponseError

from voice_mcp.services.store import start_embedded_redis


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
