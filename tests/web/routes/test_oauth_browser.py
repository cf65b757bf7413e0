"""The OAuth callback belongs to the browser that opened the start link; RFC 9207 `iss`;
connect is rate-limited and keeps few pending states (docs/oauth.md)."""

from __future__ import annotations

from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import quote

import aiohttp
import pytest
import redis.asyncio as aioredis
from aiohttp.test_utils import TestClient

from tests.oauth_server import OAuthServers
from tests.web.routes.oauth_support import (
    callback,
    finish,
    query,
    refused_callback,
    services_of,
    start_connect,
)
from voice_mcp.web import keys


async def authorization_url(client: TestClient[Any, Any], headers: dict[str, str],
                            service_id: str = "notes") -> str:
    resp = await client.post(f"/api/services/{service_id}/connect", headers=headers)
    assert resp.status == 200, await resp.text()
    url = (await resp.json())["authorizationUrl"]
    assert isinstance(url, str)
    return url


async def open_in(browser: TestClient[Any, Any] | aiohttp.ClientSession,
                  client: TestClient[Any, Any], url: str) -> str:
    """What a browser does with `authorizationUrl`: a link to this server is opened (it sets
    the binding cookie and redirects); the provider URL it ends up at."""
    public_url = client.app[keys.SETTINGS].public_url
    if not url.startswith(public_url):
        return url
    resp = await (browser.get(url.removeprefix(public_url), allow_redirects=False)
                  if isinstance(browser, TestClient) else browser.get(url, allow_redirects=False))
    assert resp.status == 302, await resp.text()
    return resp.headers["Location"]


async def grants(redis_client: aioredis.Redis) -> list[Any]:
    return list(await redis_client.keys("oauth:tokens:*"))


async def refused_page(resp: Any, phrase: str) -> None:
    body = await resp.text()
    assert resp.status == 400 and resp.content_type == "text/html", body
    assert "Connection failed" in body and phrase in body, body


async def test_start_link_sets_a_strict_cookie_bound_to_the_state_once(
        oauth_client, oauth_servers: OAuthServers, auth_for, redis_client) -> None:
    client = await oauth_client(oauth_servers.service())
    public_url = client.app[keys.SETTINGS].public_url
    link = await authorization_url(client, auth_for())
    assert link.startswith(f"{public_url}/oauth/start?state=")

    resp = await client.get(link.removeprefix(public_url), allow_redirects=False)

    assert resp.status == 302 and resp.headers["Cache-Control"] == "no-store"
    provider = resp.headers["Location"]
    assert provider.startswith(f"{oauth_servers.issuer}/authorize?")
    assert query(provider)["state"] == query(link)["state"]
    [(name, morsel)] = SimpleCookie(resp.headers["Set-Cookie"]).items()
    assert name.startswith("vm_oauth_") and len(morsel.value) >= 43
    assert morsel["httponly"] and morsel["samesite"] == "Lax"
    assert morsel["path"] == "/oauth/callback" and not morsel["secure"]
    assert 0 < int(morsel["max-age"]) <= 601
    for key in await redis_client.keys("oauth:*"):  # only a hash of the cookie is kept
        if await redis_client.type(key) == b"string":
            assert morsel.value.encode() not in await redis_client.get(key)
    # A second browser cannot bind itself to the same state.
    again = await client.get(link.removeprefix(public_url), allow_redirects=False)
    await refused_page(again, "already opened")


async def test_a_callback_in_another_browser_is_refused(
        oauth_client, oauth_servers: OAuthServers, auth_for, redis_client) -> None:
    """Alice starts and sends the provider link to Bob: Bob's grant must not land on Alice."""
    client = await oauth_client(oauth_servers.service())
    provider = await open_in(client, client, await authorization_url(client, auth_for("alice")))
    location = await oauth_servers.authorize(provider, "bob")

    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as bob:
        resp = await bob.get(location, allow_redirects=False)
        refused_callback(resp, "browser_mismatch")

    assert oauth_servers.auth_server.counts["authorization_code"] == 0
    assert await grants(redis_client) == []
    assert (await services_of(client, auth_for("alice")))["notes"]["connected"] is False


@pytest.mark.parametrize("tamper", ["drop", "alter", "other_state"])
async def test_a_missing_or_wrong_cookie_is_refused(
        oauth_client, oauth_servers: OAuthServers, auth_for, redis_client, tamper: str) -> None:
    client = await oauth_client(oauth_servers.service())
    jar = client.session.cookie_jar
    provider = await open_in(client, client, await authorization_url(client, auth_for()))
    location = await oauth_servers.authorize(provider, "alice")
    [cookie] = list(jar)
    if tamper == "drop":
        jar.clear()
    elif tamper == "alter":
        jar.clear()
        jar.update_cookies({cookie.key: cookie.value[:-2] + "xy"},
                           response_url=client.make_url("/oauth/callback"))
        assert [c.value for c in jar] == [cookie.value[:-2] + "xy"]
    else:  # the cookie this browser got for another of its sign-ins
        jar.clear()
        await open_in(client, client, await authorization_url(client, auth_for()))
        assert len(list(jar)) == 1 and next(iter(jar)).key != cookie.key

    refused_callback(await callback(client, location), "browser_mismatch")

    assert oauth_servers.auth_server.counts["authorization_code"] == 0
    assert await grants(redis_client) == []


async def test_success_clears_the_cookie(oauth_client, oauth_servers: OAuthServers,
                                         auth_for) -> None:
    client = await oauth_client(oauth_servers.service())
    location = await oauth_servers.authorize(await start_connect(client, auth_for()), "alice")

    resp = await callback(client, location)

    assert resp.status == 302
    [(name, morsel)] = SimpleCookie(resp.headers["Set-Cookie"]).items()
    assert name.startswith("vm_oauth_") and morsel.value == "" and morsel["max-age"] == "0"
    assert list(client.session.cookie_jar) == []


async def test_an_answer_from_another_issuer_is_refused(
        oauth_client, oauth_servers: OAuthServers, auth_for, redis_client) -> None:
    client = await oauth_client(oauth_servers.service())
    provider = await open_in(client, client, await authorization_url(client, auth_for()))
    location = await oauth_servers.authorize(provider, "alice")

    resp = await callback(client, f"{location}&iss={quote('https://evil.example', safe='')}")

    refused_callback(resp, "issuer_mismatch")
    assert oauth_servers.auth_server.counts["authorization_code"] == 0
    assert await grants(redis_client) == []


async def test_the_right_issuer_is_accepted(oauth_client, oauth_servers: OAuthServers,
                                            auth_for) -> None:
    client = await oauth_client(oauth_servers.service())
    provider = await open_in(client, client, await authorization_url(client, auth_for()))
    location = await oauth_servers.authorize(provider, "alice")

    resp = await finish(client, f"{location}&iss={quote(oauth_servers.issuer, safe='')}",
                        auth_for())

    assert resp.status == 200 and (await resp.json())["connected"] is True


async def test_a_promised_iss_that_is_missing_is_refused(
        oauth_client, oauth_servers: OAuthServers, auth_for, redis_client) -> None:
    oauth_servers.auth_server.metadata_overrides = {
        "authorization_response_iss_parameter_supported": True}
    client = await oauth_client(oauth_servers.service())
    provider = await open_in(client, client, await authorization_url(client, auth_for()))

    resp = await callback(client, await oauth_servers.authorize(provider, "alice"))

    refused_callback(resp, "issuer_mismatch")
    assert await grants(redis_client) == []


async def test_connect_is_rate_limited(oauth_client, oauth_servers: OAuthServers,
                                       auth_for) -> None:
    client = await oauth_client(oauth_servers.service(), rate_limit_per_minute=2)
    for _ in range(2):
        assert (await client.post("/api/services/notes/connect", headers=auth_for())).status \
            == 200

    resp = await client.post("/api/services/notes/connect", headers=auth_for())

    assert resp.status == 429 and int(resp.headers["Retry-After"]) >= 1
    assert (await resp.json())["error"]["code"] == "rate_limited"
    # Another user has a budget of their own.
    assert (await client.post("/api/services/notes/connect", headers=auth_for("bob"))).status \
        == 200


async def test_at_most_three_pending_states_per_user_and_service(
        oauth_client, oauth_servers: OAuthServers, auth_for, redis_client) -> None:
    client = await oauth_client(oauth_servers.service())
    bobs = await authorization_url(client, auth_for("bob"))
    links = [await authorization_url(client, auth_for("alice")) for _ in range(5)]

    assert len(await redis_client.keys("oauth:state:*")) == 4  # Alice's newest three + Bob's
    public_url = client.app[keys.SETTINGS].public_url
    for old in links[:2]:
        resp = await client.get(old.removeprefix(public_url), allow_redirects=False)
        await refused_page(resp, "invalid or was already used")
    for link in [*links[2:], bobs]:
        assert (await client.get(link.removeprefix(public_url),
                                 allow_redirects=False)).status == 302
