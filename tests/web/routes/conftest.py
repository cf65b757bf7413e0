"""Fixtures for route tests: the real app wired to the fake LLM, real MCP servers, real Redis."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from cryptography.fernet import Fernet

from tests.conftest import JWT_SECRET
from tests.fixtures.mcp_servers import make_catalog
from tests.fixtures.openai_server import settings_for
from tests.web.routes.oauth_support import build_oauth_client
from voice_mcp.services.catalog import ServiceConfig
from voice_mcp.web.app import create_app


@pytest.fixture
def voice_client(aiohttp_client, openai_server, redis_url):  # type: ignore[no-untyped-def]
    """Build a test client of the whole app over the given catalog services."""

    async def build(*services: ServiceConfig, **overrides: Any):  # type: ignore[no-untyped-def]
        values: dict[str, Any] = {"redis_url": redis_url, "jwt_secret": JWT_SECRET,
                                  "llm_max_retries": 0}
        values.update(overrides)
        settings = settings_for(openai_server, **values)
        return await aiohttp_client(create_app(settings, catalog=make_catalog(*services)))

    return build


@pytest.fixture
def token_key() -> str:
    return Fernet.generate_key().decode()


@pytest.fixture
def oauth_client(oauth_servers, aiohttp_client, openai_server, redis_url, token_key):
    """Build the app over the given services: `await oauth_client(*services, **settings)`.

    Asks for `oauth_servers` first so that they stop after the app closed its MCP sessions.
    """

    async def build(*services: ServiceConfig, **overrides: Any) -> TestClient[Any, Any]:
        return await build_oauth_client(aiohttp_client, openai_server, redis_url, token_key,
                                        *services, **overrides)

    return build
