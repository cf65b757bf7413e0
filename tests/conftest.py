"""Shared fixtures: a private redis-server for the whole session, never the shared one."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import redis.asyncio as aioredis

from voice_mcp.services.store import EmbeddedRedis, start_embedded_redis

os.environ.setdefault("AUTHLIB_INSECURE_TRANSPORT", "1")

pytest_plugins = [
    "tests.fixtures.openai_server",
    "tests.fixtures.mcp_servers",
    "tests.fixtures.oauth_server",
]


@pytest.fixture(scope="session", autouse=True)
def _private_state_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """What the server keeps for itself (the development secret, stdio servers' folders, the
    embedded Redis's password) goes to a scratch folder, never to the developer's home."""
    previous = os.environ.get("XDG_STATE_HOME")
    os.environ["XDG_STATE_HOME"] = str(tmp_path_factory.mktemp("xdg-state"))
    yield
    if previous is None:
        os.environ.pop("XDG_STATE_HOME", None)
    else:
        os.environ["XDG_STATE_HOME"] = previous


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


# Tests must not pick up a developer's or CI's own configuration.
for _name in list(os.environ):
    if _name.startswith(("VOICE_MCP_", "OTEL_")) or _name in ("OPENAI_API_KEY", "OPENAI_BASE_URL"):
        del os.environ[_name]

JWT_SECRET = "test-secret-" + "x" * 32


@pytest.fixture
def make_settings(redis_url: str, tmp_path):  # type: ignore[no-untyped-def]
    """Build Settings for a test: private Redis, a JWT secret, no .env file."""
    from voice_mcp.settings import Settings

    def build(**overrides: object) -> Settings:
        values: dict[str, object] = {"redis_url": redis_url, "jwt_secret": JWT_SECRET,
                                     "heartbeat_s": 15.0}
        values.update(overrides)
        return Settings(_env_file=None, **values)  # type: ignore[call-arg, arg-type]

    return build


@pytest.fixture
def token_for(make_settings):  # type: ignore[no-untyped-def]
    """Sign a bearer token for a user with the test secret."""
    from voice_mcp.services.auth import issue_dev_token

    settings = make_settings()

    def sign(user: str = "alice", ttl_s: int = 600) -> str:
        return issue_dev_token(settings, user, ttl_s)

    return sign


@pytest.fixture
def auth_for(token_for):  # type: ignore[no-untyped-def]
    """Authorization headers for a user."""
    return lambda user="alice": {"Authorization": f"Bearer {token_for(user)}"}


# Whole files that belong to a slower tier (docs/testing.md); single tests mark themselves.
_TIER_BY_PATH = {"console": "browser", "test_nginx_proxy.py": "slow",
                 "test_resume.py": "slow", "test_operations.py": "slow"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark the tests of the slower tiers by where they live."""
    tests_root = Path(__file__).resolve().parent
    for item in items:
        parts = item.path.resolve().relative_to(tests_root).parts
        for part in parts:
            tier = _TIER_BY_PATH.get(part)
            if tier is not None:
                item.add_marker(getattr(pytest.mark, tier))
