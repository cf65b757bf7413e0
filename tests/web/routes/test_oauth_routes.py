"""Connecting OAuth services over HTTP: the real app, a real authorization server and a real
OAuth-protected MCP server, the browser played by following the redirects by hand."""

from __future__ import annotations

import logging
import time
from typing import Any

import pytest
import redis.asyncio as aioredis

from tests.oauth_server import OAuthServers
from tests.web.routes.oauth_support import (
    callback,
    connect_over_http,
    finish,
    landing,
    query,
    refused_callback,
    services_of,
    start_connect,
)
from voice_mcp.services.catalog import ServiceConfig
from voice_mcp.services.oauth.crypto import TokenCipher
from voice_mcp.services.oauth.storage import OAuthStore
from voice_mcp.services.store import free_port
from voice_mcp.web import keys

RETURN_URL = "https://app.example/settings?tab=services"


async def stored_grant_keys(redis_client: aioredis.Redis) -> list[bytes | str]:
    return list(await redis_client.keys("oauth:tokens:*"))


# -- the whole flow ---------------------------------------------------------------------------


async def test_connect_with_dynamic_registration(oauth_client, oauth_servers: OAuthServers,
                                                 time_service, auth_for) -> None:
    client = await oauth_client(oauth_servers.service(), time_service)
    before = await services_of(client, auth_for())
    assert before["notes"] | {"title": ""} == {"id": "notes", "title": "", "auth": "oauth",
                                               "transport": "streamable-http",
                                               "connected": False, "needsReauth": False}
    assert before["time"]["connected"] is True and before["time"]["auth"] == "none"

    url = await start_connect(client, auth_for())
    params = query(url)
    assert url.startswith(f"{oauth_servers.issuer}/authorize?")
    assert params["code_challenge_method"] == "S256" and params["resource"] == oauth_servers.mcp_url
    redirect_uri = f"{client.app[keys.SETTINGS].public_url}/oauth/callback"
    assert params["redirect_uri"] == redirect_uri
    registered = oauth_servers.auth_server.storage.clients[params["client_id"]]
    assert registered.redirect_uris == [redirect_uri]

    resp = await callback(client, await oauth_servers.authorize(url, "alice"))
    assert resp.headers["Cache-Control"] == "no-store"
    assert resp.headers["Referrer-Policy"] == "no-referrer"
    public_url = client.app[keys.SETTINGS].public_url
    assert resp.headers["Location"].startswith(f"{public_url}/#service=notes&grant=")
    # The callback stored nothing: the grant waits for its user's request.
    assert (await services_of(client, auth_for()))["notes"]["connected"] is False
    granted = await client.post("/api/services/notes/grant", headers=auth_for(),
                                json={"grant": landing(resp)["grant"]})
    assert granted.status == 200
    assert (await granted.json())["connected"] is True

    after = await services_of(client, auth_for())
    assert after["notes"]["connected"] is True and after["notes"]["needsReauth"] is False
    assert (await services_of(client, auth_for("bob")))["notes"]["connected"] is False
    token = await client.app[keys.OAUTH].access_token("alice", oauth_servers.service())
    assert await oauth_servers.whoami(token) == "alice"
    assert oauth_servers.auth_server.counts["register"] == 1


@pytest.mark.parametrize("secret", ["static-client-secret-value", None],
                         ids=["confidential", "public"])
async def test_connect_with_a_static_client(oauth_client, oauth_servers: OAuthServers, auth_for,
                                            monkeypatch: pytest.MonkeyPatch,
                                            secret: str | None) -> None:
    monkeypatch.setenv("NOTES_CLIENT_ID", "static-notes")
    if secret:
        monkeypatch.setenv("NOTES_CLIENT_SECRET", secret)
    else:
        monkeypatch.delenv("NOTES_CLIENT_SECRET", raising=False)
    service = oauth_servers.service(client_id_env="NOTES_CLIENT_ID",
                                    client_secret_env="NOTES_CLIENT_SECRET",
                                    issuer=oauth_servers.issuer)
    client = await oauth_client(service)
    oauth_servers.auth_server.add_client(
        "static-notes", f"{client.app[keys.SETTINGS].public_url}/oauth/callback", secret=secret)

    url = await start_connect(client, auth_for())
    assert query(url)["client_id"] == "static-notes"
    resp = await finish(client, await oauth_servers.authorize(url, "alice"), auth_for())

    assert resp.status == 200 and (await resp.json())["connected"] is True
    assert oauth_servers.auth_server.counts["register"] == 0
    assert oauth_servers.auth_server.token_requests[-1]["grant_type"] == "authorization_code"
    assert (await services_of(client, auth_for()))["notes"]["connected"] is True


async def test_callback_redirects_to_the_return_url(oauth_client, oauth_servers: OAuthServers,
                                                    auth_for) -> None:
    client = await oauth_client(oauth_servers.service(), oauth_return_url=RETURN_URL)
    location = await oauth_servers.authorize(await start_connect(client, auth_for()), "alice")
    resp = await callback(client, location)
    assert resp.status == 302
    handle = landing(resp)["grant"]
    assert resp.headers["Location"] == f"{RETURN_URL}&service=notes&grant={handle}"
    assert resp.headers["Cache-Control"] == "no-store"
    assert resp.headers["Referrer-Policy"] == "no-referrer"
    assert (await client.post("/api/services/notes/grant", headers=auth_for(),
                              json={"grant": handle})).status == 200
    assert (await services_of(client, auth_for()))["notes"]["connected"] is True

    url = await start_connect(client, auth_for("bob"))
    resp = await callback(client, await oauth_servers.authorize(url, "bob", deny=True))
    assert resp.status == 302
    assert resp.headers["Location"] == f"{RETURN_URL}&service=notes&error=oauth_denied"
    resp = await client.get("/oauth/callback", params={"code": "x", "state": "forged"},
                            allow_redirects=False)
    assert resp.headers["Location"] == f"{RETURN_URL}&error=invalid_state"
    assert (await services_of(client, auth_for("bob")))["notes"]["connected"] is False


# -- callbacks that must fail, storing nothing ------------------------------------------------


def assert_failed(resp: Any, code: str) -> None:
    refused_callback(resp, code)


async def test_tampered_state_is_refused_and_the_real_one_still_works(
        oauth_client, oauth_servers: OAuthServers, auth_for, redis_client) -> None:
    client = await oauth_client(oauth_servers.service())
    location = await oauth_servers.authorize(await start_connect(client, auth_for()), "alice")
    state = query(location)["state"]
    forged = state[:-4] + ("AAAA" if not state.endswith("AAAA") else "BBBB")

    resp = await callback(client, location.replace(state, forged))

    assert_failed(resp, "invalid_state")
    assert oauth_servers.auth_server.counts["authorization_code"] == 0
    assert await stored_grant_keys(redis_client) == []
    # A forged state does not burn the genuine one.
    assert (await finish(client, location, auth_for())).status == 200


async def test_replayed_state_is_refused(oauth_client, oauth_servers: OAuthServers, auth_for,
                                         redis_client) -> None:
    client = await oauth_client(oauth_servers.service())
    location = await oauth_servers.authorize(await start_connect(client, auth_for()), "alice")
    assert (await finish(client, location, auth_for())).status == 200
    await client.delete("/api/services/notes", headers=auth_for())

    assert_failed(await callback(client, location), "invalid_state")
    assert oauth_servers.auth_server.counts["authorization_code"] == 1
    assert await stored_grant_keys(redis_client) == []


async def test_expired_state_is_refused(oauth_client, oauth_servers: OAuthServers, auth_for,
                                        redis_client, token_key) -> None:
    client = await oauth_client(oauth_servers.service())
    location = await oauth_servers.authorize(await start_connect(client, auth_for()), "alice")
    # Age the pending authorization past its 10 minutes (the app's clock is the real one).
    store = OAuthStore(redis_client, TokenCipher([token_key]))
    state = query(location)["state"]
    pending, bound = await store.pop_pending(state)
    assert pending is not None and pending.expires_at - time.time() > 500 and bound
    await store.save_pending(state, pending.model_copy(update={"expires_at": time.time() - 1}),
                             60, keep=3)
    assert await store.bind_browser(state, bound, 60)  # the same browser comes back

    assert_failed(await callback(client, location), "state_expired")
    assert oauth_servers.auth_server.counts["authorization_code"] == 0
    assert await stored_grant_keys(redis_client) == []


async def test_state_gone_from_redis_is_refused(oauth_client, oauth_servers: OAuthServers,
                                                auth_for, redis_client) -> None:
    client = await oauth_client(oauth_servers.service())
    location = await oauth_servers.authorize(await start_connect(client, auth_for()), "alice")
    [key] = await redis_client.keys("oauth:state:*")
    await redis_client.pexpireat(key, 1)  # Redis lets the key expire at once

    assert_failed(await callback(client, location), "invalid_state")
    assert await stored_grant_keys(redis_client) == []


async def test_provider_denial_is_a_clear_page(oauth_client, oauth_servers: OAuthServers,
                                               auth_for, redis_client) -> None:
    client = await oauth_client(oauth_servers.service())
    url = await start_connect(client, auth_for())
    location = await oauth_servers.authorize(url, "alice", deny=True)
    assert query(location)["error"] == "access_denied"

    assert_failed(await callback(client, location), "oauth_denied")
    assert oauth_servers.auth_server.counts["authorization_code"] == 0
    assert await stored_grant_keys(redis_client) == []
    assert (await services_of(client, auth_for()))["notes"]["connected"] is False


@pytest.mark.parametrize("params", [{}, {"code": "abc"}, {"state": "not-a-state", "code": "abc"}])
async def test_callbacks_without_a_valid_state(oauth_client, oauth_servers: OAuthServers,
                                               redis_client, params) -> None:
    client = await oauth_client(oauth_servers.service())
    resp = await client.get("/oauth/callback", params=params, allow_redirects=False)
    assert_failed(resp, "invalid_state")
    assert await stored_grant_keys(redis_client) == []


async def test_provider_error_text_is_not_reflected(oauth_client, oauth_servers: OAuthServers,
                                                    auth_for) -> None:
    client = await oauth_client(oauth_servers.service())
    state = query(await start_connect(client, auth_for()))["state"]
    resp = await client.get("/oauth/callback", allow_redirects=False, params={
        "state": state, "error": "<script>alert(1)</script>",
        "error_description": "<img src=x onerror=alert(1)>"})
    assert_failed(resp, "oauth_failed")
    body = resp.headers["Location"] + await resp.text()
    assert "<script>" not in body and "<img" not in body and "alert" not in body


async def test_a_failure_after_the_state_check_is_still_a_page(
        oauth_client, oauth_servers: OAuthServers, auth_for, redis_client,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NOTES_CLIENT_ID", "static-notes")
    client = await oauth_client(oauth_servers.service(client_id_env="NOTES_CLIENT_ID"))
    oauth_servers.auth_server.add_client(
        "static-notes", f"{client.app[keys.SETTINGS].public_url}/oauth/callback")
    location = await oauth_servers.authorize(await start_connect(client, auth_for()), "alice")
    monkeypatch.delenv("NOTES_CLIENT_ID")  # the operator broke the deployment meanwhile

    resp = await callback(client, location)

    assert_failed(resp, "oauth_not_configured")
    assert await stored_grant_keys(redis_client) == []


async def test_an_unexpected_callback_failure_is_a_page_without_details(
        oauth_client, oauth_servers: OAuthServers, monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    client = await oauth_client(oauth_servers.service())

    async def broken(*_args: Any, **_kwargs: Any) -> Any:
        raise RuntimeError("refresh_token=sekrit-123")

    monkeypatch.setattr(client.app[keys.OAUTH], "complete", broken)
    with caplog.at_level(logging.ERROR, logger="voice_mcp.errors"):
        resp = await client.get("/oauth/callback", params={"code": "c", "state": "s"},
                                allow_redirects=False)
    assert_failed(resp, "internal_error")
    assert "sekrit" not in resp.headers["Location"] + await resp.text()
    assert [r.getMessage() for r in caplog.records] == ["oauth callback failed"]


async def test_one_users_state_cannot_connect_another(oauth_client, oauth_servers: OAuthServers,
                                                      auth_for, redis_client) -> None:
    client = await oauth_client(oauth_servers.service())
    alice_state = query(await start_connect(client, auth_for("alice")))["state"]
    bob_location = await oauth_servers.authorize(await start_connect(client, auth_for("bob")),
                                                 "bob")

    # Bob's code with Alice's state: the PKCE verifier bound to Alice's state does not match.
    swapped = bob_location.replace(query(bob_location)["state"], alice_state)
    assert_failed(await callback(client, swapped), "oauth_failed")
    assert await stored_grant_keys(redis_client) == []
    for user in ("alice", "bob"):
        assert (await services_of(client, auth_for(user)))["notes"]["connected"] is False

    # Bob's own state still connects Bob, and only Bob.
    fresh = await oauth_servers.authorize(await start_connect(client, auth_for("bob")), "bob")
    assert (await finish(client, fresh, auth_for("bob"))).status == 200
    assert (await services_of(client, auth_for("bob")))["notes"]["connected"] is True
    assert (await services_of(client, auth_for("alice")))["notes"]["connected"] is False


# -- disconnecting, and services that cannot be connected -------------------------------------


async def test_disconnect_revokes_and_forgets(oauth_client, oauth_servers: OAuthServers,
                                              auth_for, redis_client) -> None:
    client = await oauth_client(oauth_servers.service())
    assert (await connect_over_http(client, oauth_servers, auth_for())).status == 200
    [grant] = oauth_servers.auth_server.tokens_of("alice")
    assert await oauth_servers.mcp_status(grant.access_token) == 200

    resp = await client.delete("/api/services/notes", headers=auth_for())

    assert resp.status == 204 and await resp.read() == b""
    assert oauth_servers.auth_server.revocations == ["refresh_token", "access_token"]
    assert grant.refresh_revoked and grant.access_revoked
    assert await oauth_servers.mcp_status(grant.access_token) == 401
    assert await stored_grant_keys(redis_client) == []
    notes = (await services_of(client, auth_for()))["notes"]
    assert notes["connected"] is False and notes["needsReauth"] is False
    # Idempotent: nothing left to revoke.
    assert (await client.delete("/api/services/notes", headers=auth_for())).status == 204
    assert oauth_servers.auth_server.counts["revoke"] == 2


async def test_unknown_and_non_oauth_services(oauth_client, oauth_servers: OAuthServers,
                                              time_service, auth_for) -> None:
    client = await oauth_client(oauth_servers.service(), time_service)
    for method, path, code in [
            ("POST", "/api/services/nope/connect", "service_not_found"),
            ("DELETE", "/api/services/nope", "service_not_found"),
            ("POST", "/api/services/time/connect", "service_not_oauth"),
            ("DELETE", "/api/services/time", "service_not_oauth")]:
        resp = await client.request(method, path, headers=auth_for())
        assert resp.status == 404, (method, path)
        assert resp.content_type == "application/json"
        assert (await resp.json())["error"]["code"] == code
    assert oauth_servers.auth_server.counts["register"] == 0


async def test_the_api_needs_a_bearer_token_but_the_callback_does_not(
        oauth_client, oauth_servers: OAuthServers) -> None:
    client = await oauth_client(oauth_servers.service())
    for method, path in [("GET", "/api/services"), ("POST", "/api/services/notes/connect"),
                         ("DELETE", "/api/services/notes")]:
        resp = await client.request(method, path)
        assert resp.status == 401 and (await resp.json())["error"]["code"] == "missing_token"
    # The browser is sent back to the app, not answered 401.
    assert (await client.get("/oauth/callback", allow_redirects=False)).status == 302


async def test_unreachable_authorization_server_is_503(oauth_client, auth_for) -> None:
    dead = ServiceConfig(id="dead", title="Dead", transport="streamable-http",
                         url=f"http://127.0.0.1:{free_port()}/mcp", auth="oauth")
    client = await oauth_client(dead)
    resp = await client.post("/api/services/dead/connect", headers=auth_for())
    error = (await resp.json())["error"]
    assert resp.status == 503 and error["code"] == "oauth_discovery_failed"
    assert "dead" in error["message"]


# -- secrets stay secret ----------------------------------------------------------------------


async def test_no_token_in_any_response_header_or_log_line(
        oauth_client, oauth_servers: OAuthServers, auth_for, redis_client,
        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    client = await oauth_client(oauth_servers.service())
    seen: list[str] = []

    async def record(resp: Any) -> None:
        seen.append(f"{resp.status} {list(resp.headers.items())!r} {await resp.text()}")

    # The first grant expires inside the refresh leeway, so the next use refreshes it once.
    oauth_servers.auth_server.access_token_lifetime = 30
    location = await oauth_servers.authorize(await start_connect(client, auth_for()), "alice")
    resp = await callback(client, location)
    await record(resp)
    await record(await client.post("/api/services/notes/grant", headers=auth_for(),
                                   json={"grant": landing(resp)["grant"]}))
    oauth_servers.auth_server.access_token_lifetime = 3600
    await record(await client.get("/api/services", headers=auth_for()))
    await record(await client.get("/api/voice/capabilities", headers=auth_for()))  # refreshes
    await record(await client.delete("/api/services/notes", headers=auth_for()))

    issued = oauth_servers.auth_server.tokens_of("alice")
    assert len(issued) == 2, "connected, then refreshed"
    secrets_ = {t.access_token for t in issued} | {t.refresh_token for t in issued
                                                  if t.refresh_token}
    secrets_ |= {c.client_secret for c in oauth_servers.auth_server.storage.clients.values()
                 if c.client_secret}
    # Everything this process logged at any level, but the test servers' own loggers
    # (authlib's server grants print the tokens they issue at DEBUG).
    records = [r for r in caplog.records
               if not r.name.startswith(("authlib.oauth2.", "mcp.server.", "uvicorn"))]
    assert any(r.name.startswith("voice_mcp") for r in records)
    for secret in secrets_:
        assert all(secret not in text for text in seen)
        leaked = [r.name for r in records if secret in f"{r.getMessage()} {r.__dict__}"]
        assert not leaked, leaked
    # The authorization code is only in the browser's URL, never in the app's own log lines.
    code = query(location)["code"]
    assert not [r for r in records if r.name.startswith("voice_mcp")
                and code in f"{r.getMessage()} {r.__dict__}"]
    for key in await redis_client.keys("oauth:*"):
        if await redis_client.type(key) == b"string":
            raw = await redis_client.get(key)
            assert all(secret.encode() not in raw for secret in secrets_)
