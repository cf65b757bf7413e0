"""Finding the authorization server (RFC 9728, RFC 8414, OpenID) and registering (RFC 7591)."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest

from tests.oauth_server import OAuthServers
from tests.oauth_server.runner import base_url, listening_socket
from tests.services.oauth.conftest import browser_start, connect
from voice_mcp.errors import ServiceUnavailable
from voice_mcp.services.oauth import OAuthService
from voice_mcp.services.oauth.discovery import (
    authorization_server_urls,
    bearer_challenge,
    protected_resource_urls,
)


def test_bearer_challenge_parameters() -> None:
    header = ('Bearer error="invalid_token", error_description="Authentication required",'
              ' resource_metadata="https://mcp.example.com/.well-known/oauth-protected-resource/mcp",'
              ' scope="a b"')

    params = bearer_challenge(header)

    assert params["resource_metadata"] == (
        "https://mcp.example.com/.well-known/oauth-protected-resource/mcp")
    assert params["scope"] == "a b" and params["error"] == "invalid_token"
    assert bearer_challenge('Basic realm="x"') == {}


def test_well_known_urls() -> None:
    assert protected_resource_urls("https://h.example/mcp/") == [
        "https://h.example/.well-known/oauth-protected-resource/mcp",
        "https://h.example/.well-known/oauth-protected-resource",
    ]
    assert authorization_server_urls("https://as.example") == [
        "https://as.example/.well-known/oauth-authorization-server",
        "https://as.example/.well-known/openid-configuration",
    ]
    assert authorization_server_urls("https://as.example/tenant") == [
        "https://as.example/.well-known/oauth-authorization-server/tenant",
        "https://as.example/.well-known/openid-configuration/tenant",
        "https://as.example/tenant/.well-known/openid-configuration",
    ]


async def test_well_known_resource_metadata_without_the_header(
        oauth: OAuthService, oauth_servers: OAuthServers) -> None:
    oauth_servers.advertise_resource_metadata = False
    assert await oauth_servers.mcp_status(None) == 401

    await connect(oauth, oauth_servers, "alice")

    token = await oauth.access_token("alice", oauth_servers.service())
    assert await oauth_servers.whoami(token) == "alice"


async def test_openid_configuration_is_a_fallback(oauth: OAuthService,
                                                  oauth_servers: OAuthServers) -> None:
    oauth_servers.auth_server.metadata_style = "openid"

    await connect(oauth, oauth_servers, "alice")

    token = await oauth.access_token("alice", oauth_servers.service())
    assert await oauth_servers.whoami(token) == "alice"


async def test_discovery_is_cached(oauth: OAuthService, oauth_servers: OAuthServers) -> None:
    await browser_start(oauth, "alice", "notes")
    await browser_start(oauth, "bob", "notes")

    assert oauth_servers.auth_server.counts["metadata"] == 1


async def test_scopes_come_from_the_resource_server_when_the_catalog_has_none(
        make_oauth, oauth_servers: OAuthServers) -> None:
    oauth = make_oauth(oauth_servers.catalog(oauth_servers.service(scopes=[])))

    url = await browser_start(oauth, "alice", "notes")

    assert parse_qs(urlsplit(url).query)["scope"] == ["notes.read"]


async def test_client_secret_post_when_the_server_wants_a_secret(
        oauth: OAuthService, oauth_servers: OAuthServers) -> None:
    oauth_servers.auth_server.token_endpoint_auth_methods = ["client_secret_post"]

    await connect(oauth, oauth_servers, "alice")

    (client,) = oauth_servers.auth_server.storage.clients.values()
    assert client.token_endpoint_auth_method == "client_secret_post" and client.client_secret
    assert await oauth_servers.whoami(
        await oauth.access_token("alice", oauth_servers.service())) == "alice"
    # The refresh authenticates the same way.
    token = await oauth.access_token("alice", oauth_servers.service())
    assert await oauth.refresh_after_unauthorized("alice", oauth_servers.service(), token)


async def test_no_registration_and_no_static_client_is_a_clear_error(
        oauth: OAuthService, oauth_servers: OAuthServers) -> None:
    oauth_servers.auth_server.registration_enabled = False

    with pytest.raises(ServiceUnavailable) as caught:
        await browser_start(oauth, "alice", "notes")

    assert caught.value.code == "oauth_not_configured" and not caught.value.retryable


async def test_static_client_without_its_variable_is_a_clear_error(
        make_oauth, oauth_servers: OAuthServers, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MISSING_CLIENT_ID", raising=False)
    oauth = make_oauth(oauth_servers.catalog(
        oauth_servers.service(client_id_env="MISSING_CLIENT_ID")))

    with pytest.raises(ServiceUnavailable) as caught:
        await browser_start(oauth, "alice", "notes")

    assert caught.value.code == "oauth_not_configured"
    assert "MISSING_CLIENT_ID" in caught.value.message


async def test_unreachable_mcp_server_is_a_discovery_error(make_oauth,
                                                           oauth_servers: OAuthServers) -> None:
    sock = listening_socket()
    url = f"{base_url(sock)}/mcp"
    sock.close()  # nothing listens there any more
    oauth = make_oauth(oauth_servers.catalog(oauth_servers.service(url=url)))

    with pytest.raises(ServiceUnavailable) as caught:
        await browser_start(oauth, "alice", "notes")

    assert caught.value.code == "oauth_discovery_failed" and caught.value.retryable


async def test_metadata_naming_another_issuer_is_refused(oauth: OAuthService,
                                                         oauth_servers: OAuthServers) -> None:
    oauth_servers.auth_server.issuer_override = "https://evil.example"

    with pytest.raises(ServiceUnavailable) as caught:
        await browser_start(oauth, "alice", "notes")

    assert caught.value.code == "oauth_discovery_failed"
    assert oauth_servers.auth_server.counts["register"] == 0


async def test_a_client_id_metadata_document_replaces_registration_where_supported(
        oauth_servers: OAuthServers, redis_client, token_key: str) -> None:
    """With an https public URL and a server that takes Client ID Metadata Documents, the
    client_id is this server's document URL and nothing is registered; else it registers."""
    from voice_mcp.settings import Settings

    oauth_servers.auth_server.metadata_overrides = {"client_id_metadata_document_supported": True}
    settings = Settings(_env_file=None, token_key=token_key, public_url="https://voice.example",
                        discovery_timeout_s=5)
    oauth = OAuthService(settings, oauth_servers.catalog(), redis_client)
    try:
        url = await oauth.start("alice", "notes")
        assert url.startswith("https://voice.example/oauth/start?state=")
        provider = (await oauth.open_start(url.split("state=")[1])).url
        params = {k: v[0] for k, v in parse_qs(urlsplit(provider).query).items()}
        assert params["client_id"] == "https://voice.example/oauth/client-metadata.json"
        assert oauth_servers.auth_server.counts["register"] == 0
        document = oauth.client_metadata()
        assert document["client_id"] == params["client_id"]
        assert document["redirect_uris"] == ["https://voice.example/oauth/callback"]
        assert document["application_type"] == "web"
        assert document["token_endpoint_auth_method"] == "none"
    finally:
        await oauth.close()


async def test_an_http_public_url_registers_even_where_documents_are_supported(
        oauth: OAuthService, oauth_servers: OAuthServers) -> None:
    oauth_servers.auth_server.metadata_overrides = {"client_id_metadata_document_supported": True}
    provider = await browser_start(oauth, "alice", "notes")
    assert not parse_qs(urlsplit(provider).query)["client_id"][0].startswith("http")
    assert oauth_servers.auth_server.counts["register"] == 1


async def test_the_probe_reads_the_challenge_of_a_real_request(oauth_servers: OAuthServers
                                                               ) -> None:
    """A resource that lets `initialize` through unauthenticated still challenges a
    2026-07-28 `server/discover`: its scope is the one the first authorization asks for."""
    import httpx2
    from aiohttp import web

    from voice_mcp.services.catalog import ServiceConfig
    from voice_mcp.services.oauth.discovery import Discoverer

    seen: list[str] = []

    async def mcp(request: web.Request) -> web.Response:
        body = await request.json()
        seen.append(body["method"])
        if body["method"] == "initialize":
            return web.json_response({"jsonrpc": "2.0", "id": body["id"], "result": {}})
        return web.json_response({"error": "invalid_token"}, status=401, headers={
            "WWW-Authenticate": f'Bearer scope="notes.read", resource_metadata="{prm_url}"'})

    async def prm(request: web.Request) -> web.Response:
        return web.json_response({"resource": mcp_url,
                                  "authorization_servers": [oauth_servers.issuer],
                                  "scopes_supported": ["notes.read", "notes.write"]})

    app = web.Application()
    app.router.add_post("/mcp", mcp)
    app.router.add_get("/.well-known/oauth-protected-resource/mcp", prm)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    sock = listening_socket()
    await web.SockSite(runner, sock).start()
    mcp_url = f"{base_url(sock)}/mcp"
    prm_url = f"{base_url(sock)}/.well-known/oauth-protected-resource/mcp"
    service = ServiceConfig(id="lenient", title="Lenient", transport="streamable-http",
                            url=mcp_url, auth="oauth")
    try:
        async with httpx2.AsyncClient() as http:
            found = await Discoverer(http).discover(service)
    finally:
        await runner.cleanup()

    assert seen == ["server/discover"]
    assert found.scopes == ["notes.read"]
    assert found.metadata.issuer == oauth_servers.issuer
