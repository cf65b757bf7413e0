"""Helpers for the MCP layer's tests: managers over small catalogs, closed after each test."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
import redis.asyncio as aioredis

from tests.fixtures.mcp_servers import make_catalog
from voice_mcp.services.catalog import ServiceConfig
from voice_mcp.services.mcp.manager import McpManager

MakeManager = Callable[..., McpManager]


@pytest.fixture
async def make_manager(redis_client: aioredis.Redis) -> AsyncIterator[MakeManager]:
    """Build McpManagers over the given services on the test Redis; all closed at the end."""
    made: list[McpManager] = []

    def make(*services: ServiceConfig, **options: Any) -> McpManager:
        options.setdefault("discovery_timeout_s", 10)
        options.setdefault("call_timeout_s", 10)
        manager = McpManager(make_catalog(*services), redis_client, **options)
        made.append(manager)
        return manager

    yield make
    for manager in made:
        await manager.close()
