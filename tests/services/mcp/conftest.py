"""Helpers for the MCP layer's tests: managers over small catalogs, closed after each test."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
import redis.asyncio as aioredis

from tests.fixtures.mcp_servers import make_catalog
from voice_mcp.services.catalog import ServiceConfig
from voice_mcp.services.mcp.manager import McpManager
from voice_mcp.services.sealing import RecordSigner

MakeManager = Callable[..., McpManager]
# One deployment: every manager a test makes shares the key its cached tool lists are sealed
# with, as instances sharing a token key or HS256 secret do (services/sealing.py).
DEPLOYMENT_SIGNER = RecordSigner(b"test deployment secret")


def cached_tools(raw: bytes | str | None) -> list[dict[str, Any]]:
    """The tools in a cached list as stored in Redis (past its seal); [] when there is none."""
    data = raw.encode() if isinstance(raw, str) else raw
    return [] if data is None else list(json.loads(data.split(b".", 2)[2]))


@pytest.fixture
async def make_manager(redis_client: aioredis.Redis) -> AsyncIterator[MakeManager]:
    """Build McpManagers over the given services on the test Redis; all closed at the end."""
    made: list[McpManager] = []

    def make(*services: ServiceConfig, **options: Any) -> McpManager:
        options.setdefault("discovery_timeout_s", 10)
        options.setdefault("call_timeout_s", 10)
        options.setdefault("signer", DEPLOYMENT_SIGNER)
        manager = McpManager(make_catalog(*services), redis_client, **options)
        made.append(manager)
        return manager

    yield make
    for manager in made:
        await manager.close()
