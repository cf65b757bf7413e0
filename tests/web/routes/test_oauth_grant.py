"""The grant step (docs/oauth.md): the callback stores nothing; the browser that finished gets a
one-time handle, and only the user who started can store it."""

from __future__ import annotations

from typing import Any

import aiohttp
import redis.asyncio as aioredis

from tests.oauth_server import OAuthServers
from tests.web.routes.oauth_support import (
    callback,
    connect_link,
    landing,
    redeem,
    services_of,
    start_connect,
)
from voice_mcp.web import keys


async def grants(redis_client: aioredis.Redis) -> list[Any]:
    return list(await redis_client.keys("oauth:tokens:*"))


async def test_a_sign_in_started_by_someone_else_never_lands_in_their_account(
        oauth_client, oauth_servers: OAuthServers, auth_for, redis_client) -> None:
    """Mallory starts a connection and gets Victor's browser to open her start link; Victor
    signs in at the provider. Victor's calendar must not be connected to Mallory's account."""
    client = await oauth_client(oauth_servers.service())
    link = await connect_link(client, auth_for("mallory"))

    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as victor:
        started = await victor.get(link, allow_redirects=False)
        assert started.status == 302
        location = await oauth_servers.authorize(started.headers["Location"], "victor")
        resp = await victor.get(location, allow_redirects=False)
        outcome = landing(resp)
    assert outcome["service"] == "notes" and "grant" in outcome
    # Nothing was stored by the callback: Mallory is not connected.
    assert await grants(redis_client) == []
    assert (await services_of(client, auth_for("mallory")))["notes"]["connected"] is False

    # Victor's console completes the grant with Victor's token: refused, and the grant is gone.
    refused = await redeem(client, auth_for("victor"), outcome["grant"])
    assert refused.status == 403
    assert (await refused.json())["error"]["code"] == "grant_forbidden"
    again = await redeem(client, auth_for("mallory"), outcome["grant"])
    assert again.status == 404
    assert await grants(redis_client) == []
    for user in ("mallory", "victor"):
        assert (await services_of(client, auth_for(user)))["notes"]["connected"] is False


async def test_a_grant_works_once_for_its_user(oauth_client, oauth_servers: OAuthServers,
                                               auth_for, redis_client) -> None:
    client = await oauth_client(oauth_servers.service())
    location = await oauth_servers.authorize(await start_connect(client, auth_for()), "alice")
    handle = landing(await callback(client, location))["grant"]

    resp = await redeem(client, auth_for(), handle)

    assert resp.status == 200
    entry = await resp.json()
    assert entry["id"] == "notes" and entry["connected"] is True and entry["needsReauth"] is False
    assert len(await grants(redis_client)) == 1
    assert (await redeem(client, auth_for(), handle)).status == 404  # used
    assert (await redeem(client, auth_for(), "no-such-grant")).status == 404
    assert (await client.post("/api/services/notes/grant", headers=auth_for(),
                              json={"grant": ""})).status == 400
    assert (await client.post("/api/services/notes/grant", json={"grant": handle})).status == 401


async def test_a_grant_is_kept_hashed_and_encrypted(oauth_client, oauth_servers: OAuthServers,
                                                    auth_for, redis_client) -> None:
    client = await oauth_client(oauth_servers.service())
    location = await oauth_servers.authorize(await start_connect(client, auth_for()), "alice")
    handle = landing(await callback(client, location))["grant"]

    [key] = await redis_client.keys("oauth:grant:*")
    assert handle.encode() not in key
    assert 0 < await redis_client.ttl(key) <= 600
    raw = await redis_client.get(key)
    [issued] = oauth_servers.auth_server.tokens_of("alice")
    assert issued.access_token.encode() not in raw and b"alice" not in raw


async def test_the_client_metadata_document_is_public(oauth_client,
                                                      oauth_servers: OAuthServers) -> None:
    client = await oauth_client(oauth_servers.service())
    public_url = client.app[keys.SETTINGS].public_url

    resp = await client.get("/oauth/client-metadata.json")

    assert resp.status == 200
    document = await resp.json()
    assert document["client_id"] == f"{public_url}/oauth/client-metadata.json"
    assert document["redirect_uris"] == [f"{public_url}/oauth/callback"]
    assert document["grant_types"] == ["authorization_code", "refresh_token"]
