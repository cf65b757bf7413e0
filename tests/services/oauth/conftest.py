"""Helpers for the OAuth service tests: an OAuthService on the test Redis and servers."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import redis.asyncio as aioredis
from cryptography.fernet import Fernet

from tests.oauth_server import OAuthServers
from voice_mcp.services.catalog import Catalog
from voice_mcp.services.oauth import CallbackResult, OAuthService
from voice_mcp.settings import Settings

PUBLIC_URL = "http://voice.test:8080"
REDIRECT_URI = f"{PUBLIC_URL}/oauth/callback"


def make_settings(keys: list[str]) -> Settings:
    return Settings(_env_file=None, token_key=",".join(keys), public_url=PUBLIC_URL,
                    discovery_timeout_s=5)


class Clock:
    """A settable clock for state expiry (no sleeping)."""

    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def token_key() -> str:
    return Fernet.generate_key().decode()


@pytest.fixture
async def make_oauth(redis_client: aioredis.Redis, oauth_servers: OAuthServers,
                     token_key: str) -> AsyncIterator[Callable[..., OAuthService]]:
    """Build OAuthService instances (one per simulated process); closed at teardown."""
    made: list[OAuthService] = []

    def make(catalog: Catalog | None = None, *, keys: list[str] | None = None,
             **options: Any) -> OAuthService:
        service = OAuthService(make_settings(keys or [token_key]),
                               catalog or oauth_servers.catalog(), redis_client, **options)
        made.append(service)
        return service

    yield make
    for service in made:
        await service.close()


@pytest.fixture
def oauth(make_oauth: Callable[..., OAuthService]) -> OAuthService:
    return make_oauth()


# The browser's cookies, by name (states are random, so one jar serves every test).
COOKIES: dict[str, str] = {}


async def browser_start(oauth: OAuthService, user: str, service_id: str = "notes") -> str:
    """Start as `user` and open the start link as a browser would: the provider URL."""
    link = await oauth.start(user, service_id)
    assert link.startswith(f"{PUBLIC_URL}/oauth/start?state="), link
    started = await oauth.open_start(parse_qs(urlsplit(link).query)["state"][0])
    COOKIES[started.cookie.name] = started.cookie.value
    return started.url


async def browser_complete(oauth: OAuthService, code: str | None, state: str | None,
                           error: str | None = None, **options: Any) -> CallbackResult:
    """The callback, from the browser that opened the start link, then the grant step by the
    user who started (the console does it with that user's token)."""
    secret = COOKIES.get(oauth.cookie_name(state)) if state else None
    result = await oauth.complete(code, state, error, browser_secret=secret, **options)
    await oauth.redeem(result.user_id, result.service_id, result.grant)
    return result


async def connect(oauth: OAuthService, servers: OAuthServers, user: str = "alice",
                  service_id: str = "notes") -> CallbackResult:
    """The whole browser round trip: start, approve at the server, complete."""
    url = await browser_start(oauth, user, service_id)
    params = await servers.authorize_params(url, user)
    return await browser_complete(oauth, params["code"], params["state"])
