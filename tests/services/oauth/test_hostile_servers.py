"""A hostile MCP or authorization server cannot steer discovery (docs/oauth.md, URL policy)."""

from __future__ import annotations

import ipaddress
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlsplit

import httpx2
import pytest

from tests.oauth_server import OAuthServers
from tests.services.oauth.conftest import REDIRECT_URI, connect
from voice_mcp.errors import ServiceUnavailable
from voice_mcp.services.oauth import OAuthService
from voice_mcp.services.oauth.discovery import Discoverer
from voice_mcp.services.oauth.url_policy import IPAddress, resolve


class RecordingTransport(httpx2.AsyncBaseTransport):
    """Real HTTP to loopback; every other host is recorded and refused without a packet."""

    def __init__(self) -> None:
        self.inner = httpx2.AsyncHTTPTransport()
        self.hosts: list[str] = []

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        self.hosts.append(request.url.host)
        if request.url.host not in ("127.0.0.1", "localhost"):
            raise httpx2.ConnectError("test: no network", request=request)
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()


async def refused(start: Awaitable[Any]) -> ServiceUnavailable:
    with pytest.raises(ServiceUnavailable) as caught:
        await start
    assert caught.value.code == "oauth_discovery_failed"
    return caught.value


@pytest.mark.parametrize("internal", [
    "http://169.254.169.254/latest/meta-data/iam/security-credentials/",
    "http://[fd00:ec2::254]/latest/meta-data/",
    "http://10.0.0.7/admin",
])
async def test_resource_metadata_on_an_internal_address_is_never_fetched(
        make_oauth: Callable[..., OAuthService], oauth_servers: OAuthServers,
        internal: str) -> None:
    transport = RecordingTransport()
    oauth = make_oauth(http_client_factory=lambda: httpx2.AsyncClient(
        transport=transport, follow_redirects=True, timeout=5))
    oauth_servers.resource_metadata_override = internal

    error = await refused(oauth.start("alice", "notes"))

    assert set(transport.hosts) == {"127.0.0.1"}, transport.hosts  # only the MCP server
    assert "refused" in error.message


async def test_no_redirect_is_followed_during_discovery(
        oauth: OAuthService, oauth_servers: OAuthServers) -> None:
    # The 401 names a URL that redirects elsewhere (here a loopback canary the zone allows,
    # so only the no-redirect rule can keep it untouched).
    oauth_servers.resource_metadata_override = f"{oauth_servers.issuer}/redirect"

    await oauth.start("alice", "notes")  # falls back to the well-known URLs

    assert oauth_servers.auth_server.counts["redirect"] == 1
    assert oauth_servers.auth_server.counts["canary"] == 0
    await connect(oauth, oauth_servers, "alice")


@pytest.mark.parametrize(("field", "value"), [
    ("authorization_endpoint", "javascript:alert(document.cookie)"),
    ("authorization_endpoint", "data:text/html,<script>alert(1)</script>"),
    ("token_endpoint", "http://10.0.0.7/token"),
    ("token_endpoint", "http://169.254.169.254/token"),
    ("registration_endpoint", "http://[fd00:ec2::254]/register"),
    ("revocation_endpoint", "file:///etc/passwd"),
])
async def test_hostile_endpoints_in_the_metadata_are_refused(
        oauth: OAuthService, oauth_servers: OAuthServers, field: str, value: str) -> None:
    oauth_servers.auth_server.metadata_overrides = {field: value}

    error = await refused(oauth.start("alice", "notes"))

    assert field in error.message
    assert oauth_servers.auth_server.counts["register"] == 0
    assert oauth_servers.auth_server.counts["authorize"] == 0


async def test_an_authorization_server_outside_the_zone_is_refused(
        oauth: OAuthService, oauth_servers: OAuthServers) -> None:
    oauth_servers.resource_metadata_override = f"{oauth_servers.issuer}/protected-resource"
    oauth_servers.auth_server.resources = [oauth_servers.mcp_url]
    oauth_servers.auth_server.issuer = "http://169.254.169.254"  # its metadata names this AS

    await refused(oauth.start("alice", "notes"))

    assert oauth_servers.auth_server.counts["metadata"] == 0


async def test_a_static_secret_goes_only_to_the_pinned_issuer(
        make_oauth: Callable[..., OAuthService], oauth_servers: OAuthServers,
        oauth_servers_factory: Callable[..., Awaitable[OAuthServers]],
        monkeypatch: pytest.MonkeyPatch) -> None:
    secret = "static-secret-of-the-operator"
    monkeypatch.setenv("NOTES_CLIENT_ID", "static-notes")
    monkeypatch.setenv("NOTES_CLIENT_SECRET", secret)
    oauth_servers.auth_server.add_client("static-notes", REDIRECT_URI, secret=secret)
    # Another authorization server (same zone, plain http allowed) that the hostile MCP
    # server's 401 points at, with metadata naming itself for the real MCP resource.
    attacker = (await oauth_servers_factory()).auth_server
    attacker.resources = [oauth_servers.mcp_url]
    attacker.add_client("static-notes", REDIRECT_URI, secret="whatever")
    oauth_servers.resource_metadata_override = f"{attacker.issuer}/protected-resource"
    service = oauth_servers.service(client_id_env="NOTES_CLIENT_ID",
                                    client_secret_env="NOTES_CLIENT_SECRET",
                                    issuer=oauth_servers.issuer)
    oauth = make_oauth(oauth_servers.catalog(service))

    error = await refused(oauth.start("alice", "notes"))

    assert "pinned" in error.message
    assert attacker.counts["protected_resource"] == 1
    assert attacker.token_requests == [] and attacker.counts["metadata"] == 0

    # With the honest metadata the same catalog entry connects, secret and all.
    oauth_servers.resource_metadata_override = None
    await connect(oauth, oauth_servers, "alice")
    assert oauth_servers.auth_server.token_requests[-1]["grant_type"] == "authorization_code"
    assert attacker.token_requests == []


async def test_discovery_connects_to_the_address_it_checked(
        oauth_servers: OAuthServers) -> None:
    """DNS rebinding: the name is resolved once, by the policy; the HTTP client never resolves
    it again (`as.test` does not exist in real DNS, so only the pinned request can succeed)."""
    async def dns(host: str, port: int) -> list[IPAddress]:
        return [ipaddress.ip_address("127.0.0.1")] if host == "as.test" else \
            await resolve(host, port)

    port = urlsplit(oauth_servers.issuer).port
    oauth_servers.resource_metadata_override = f"http://as.test:{port}/protected-resource"
    oauth_servers.auth_server.resources = [oauth_servers.mcp_url]
    async with httpx2.AsyncClient(timeout=5) as http:
        found = await Discoverer(http, dns).discover(oauth_servers.service())

    assert found.metadata.issuer == oauth_servers.issuer
    assert oauth_servers.auth_server.hosts_seen == [f"as.test:{port}"]


async def test_token_requests_go_to_the_vetted_address_and_follow_no_rebinding(
        make_oauth: Callable[..., OAuthService], oauth_servers: OAuthServers) -> None:
    answers = {"as.test": "127.0.0.1"}

    async def dns(host: str, port: int) -> list[IPAddress]:
        if host in answers:
            return [ipaddress.ip_address(answers[host])]
        return await resolve(host, port)

    port = urlsplit(oauth_servers.issuer).port
    oauth_servers.auth_server.metadata_overrides = {
        "token_endpoint": f"http://as.test:{port}/token"}
    oauth = make_oauth(resolver=dns)
    await connect(oauth, oauth_servers, "alice")  # the code exchange reached as.test
    assert oauth_servers.auth_server.counts["authorization_code"] == 1
    service = oauth_servers.service()
    token = await oauth.access_token("alice", service)

    answers["as.test"] = "169.254.169.254"  # the name now points at cloud metadata
    oauth_servers.auth_server.expire_access_tokens("alice")
    with pytest.raises(ServiceUnavailable) as caught:
        await oauth.refresh_after_unauthorized("alice", service, token)

    assert caught.value.code == "oauth_unavailable"
    assert oauth_servers.auth_server.counts["refresh_token"] == 0
    answers["as.test"] = "127.0.0.1"  # and back: the grant was kept
    assert await oauth.refresh_after_unauthorized("alice", service, token) != token
