"""Helpers for OAuth route tests: build the app at a known port, play the browser."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

from aiohttp.test_utils import TestClient

from tests.conftest import JWT_SECRET
from tests.fixtures.mcp_servers import make_catalog
from tests.fixtures.openai_server import settings_for
from tests.oauth_server import OAuthServers
from voice_mcp.services.catalog import ServiceConfig
from voice_mcp.services.store import free_port
from voice_mcp.web import keys
from voice_mcp.web.app import create_app


def query(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


async def build_oauth_client(aiohttp_client: Any, openai_server: Any, redis_url: str,
                             token_key: str, *services: ServiceConfig,
                             **overrides: Any) -> TestClient[Any, Any]:
    """The whole app on a port known in advance, so that VOICE_MCP_PUBLIC_URL is its own URL
    and the authorization server redirects the "browser" straight back to it."""
    port = free_port()
    values: dict[str, Any] = {"redis_url": redis_url, "jwt_secret": JWT_SECRET,
                              "llm_max_retries": 0, "token_key": token_key,
                              "public_url": f"http://127.0.0.1:{port}",
                              "discovery_timeout_s": 20}
    values.update(overrides)
    settings = settings_for(openai_server, **values)
    client: TestClient[Any, Any] = await aiohttp_client(
        create_app(settings, catalog=make_catalog(*services)), server_kwargs={"port": port})
    assert str(client.make_url("")).rstrip("/") == settings.public_url
    return client


async def connect_link(client: TestClient[Any, Any], headers: dict[str, str],
                       service_id: str = "notes") -> str:
    """POST connect; the `authorizationUrl` (this server's start link)."""
    resp = await client.post(f"/api/services/{service_id}/connect", headers=headers)
    assert resp.status == 200, await resp.text()
    url = (await resp.json())["authorizationUrl"]
    assert isinstance(url, str)
    public_url = client.app[keys.SETTINGS].public_url
    assert url.startswith(f"{public_url}/oauth/start?state="), url
    return url


async def open_link(client: TestClient[Any, Any], link: str) -> str:
    """Open a start link in the client's browser (its cookie jar keeps the binding cookie);
    the provider URL it redirects to."""
    public_url = client.app[keys.SETTINGS].public_url
    resp = await client.get(link.removeprefix(public_url), allow_redirects=False)
    assert resp.status == 302, await resp.text()
    return resp.headers["Location"]


async def start_connect(client: TestClient[Any, Any], headers: dict[str, str],
                        service_id: str = "notes") -> str:
    """POST connect and open the start link; the authorization server's URL."""
    return await open_link(client, await connect_link(client, headers, service_id))


async def callback(client: TestClient[Any, Any], location: str) -> Any:
    """Follow the authorization server's redirect back to the app, as the browser would."""
    public_url = client.app[keys.SETTINGS].public_url
    assert location.startswith(f"{public_url}/oauth/callback?"), location
    return await client.get(location.removeprefix(public_url), allow_redirects=False)


def landing(resp: Any) -> dict[str, str]:
    """Where the callback sent the browser: the app, with `service` and `grant` or `error`
    in the console's fragment or the return URL's query."""
    assert resp.status == 302, resp.status
    parts = urlsplit(resp.headers["Location"])
    found = {k: v[0] for k, v in parse_qs(parts.query).items()}
    found.update({k: v[0] for k, v in parse_qs(parts.fragment).items()})
    return found


def refused_callback(resp: Any, code: str) -> None:
    """The callback sent the browser back with `error=<code>` and no grant."""
    found = landing(resp)
    assert found.get("error") == code and "grant" not in found, found


async def redeem(client: TestClient[Any, Any], headers: dict[str, str], handle: str,
                 service_id: str = "notes") -> Any:
    """What the console does with the handle in its URL: POST it with its user's token."""
    return await client.post(f"/api/services/{service_id}/grant", headers=headers,
                             json={"grant": handle})


async def finish(client: TestClient[Any, Any], location: str, headers: dict[str, str],
                 service_id: str = "notes") -> Any:
    """The callback, then the grant step as the console does it; the grant's response."""
    found = landing(await callback(client, location))
    assert "grant" in found and found.get("service") == service_id, found
    return await redeem(client, headers, found["grant"], service_id)


async def connect_over_http(client: TestClient[Any, Any], servers: OAuthServers,
                            headers: dict[str, str], user: str = "alice",
                            service_id: str = "notes") -> Any:
    """The whole round trip: connect, approve at the authorization server as `user`, callback,
    grant; the grant's response."""
    url = await start_connect(client, headers, service_id)
    return await finish(client, await servers.authorize(url, user), headers, service_id)


async def services_of(client: TestClient[Any, Any], headers: dict[str, str]) -> dict[str, Any]:
    resp = await client.get("/api/services", headers=headers)
    assert resp.status == 200
    return {s["id"]: s for s in (await resp.json())["services"]}
