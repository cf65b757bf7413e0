"""One running OAuth world for a test: authorization server + protected MCP server + helpers."""

from __future__ import annotations

import contextlib
import functools
import ssl
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx2
from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tests.oauth_server.authorization_server import TestAuthorizationServer
from tests.oauth_server.protected_mcp import build_protected_mcp
from tests.oauth_server.runner import base_url, listening_socket, serve_aiohttp, serve_asgi
from voice_mcp.services.catalog import Catalog, ServiceConfig


@functools.cache
def _ssl_context() -> ssl.SSLContext:
    return httpx2.create_ssl_context()  # once: building one costs ~50 ms


def _http(**options: Any) -> httpx2.AsyncClient:
    return httpx2.AsyncClient(verify=_ssl_context(), **options)


@dataclass
class OAuthServers:
    """URLs, knobs (on `auth_server`) and helpers of a running authorization + MCP server."""

    auth_server: TestAuthorizationServer
    issuer: str  # also the authorization server's base URL
    mcp_url: str  # the protected MCP endpoint (streamable HTTP)
    resource_metadata_url: str  # its RFC 9728 metadata
    notes: dict[str, list[str]] = field(default_factory=dict)  # the MCP server's data per user
    # False: the MCP server's 401 carries no `resource_metadata` (clients must try well-known URLs)
    advertise_resource_metadata: bool = True
    # Set: the 401 names this URL as its `resource_metadata` (a hostile MCP server)
    resource_metadata_override: str | None = None

    def service(self, service_id: str = "notes", **overrides: Any) -> ServiceConfig:
        """A catalog entry for the protected MCP server (auth = "oauth")."""
        fields: dict[str, Any] = {
            "id": service_id, "title": "Notes", "transport": "streamable-http",
            "url": self.mcp_url, "auth": "oauth", "scopes": ["notes.read", "notes.write"],
        }
        fields.update(overrides)
        return ServiceConfig(**fields)

    def catalog(self, *services: ServiceConfig) -> Catalog:
        """A catalog of the given services (default: just `service()`)."""
        chosen = services or (self.service(),)
        return Catalog(services={s.id: s for s in chosen})

    async def authorize(self, authorization_url: str, user: str | None = "alice", *,
                        deny: bool = False) -> str:
        """Open the authorization URL as `user` would; the redirect's Location (the callback)."""
        headers = {"X-Test-User": user} if user else {}
        if deny:
            headers["X-Test-Deny"] = "1"
        async with _http(follow_redirects=False) as http:
            response = await http.get(authorization_url, headers=headers)
        if response.status_code != 302:
            raise AssertionError(f"authorize answered {response.status_code}: {response.text}")
        return response.headers["location"]

    async def authorize_params(self, authorization_url: str, user: str | None = "alice", *,
                               deny: bool = False) -> dict[str, str]:
        """Like authorize(), but the callback's query parameters (code, state or error)."""
        location = await self.authorize(authorization_url, user, deny=deny)
        return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}

    async def mcp_status(self, access_token: str | None) -> int:
        """The HTTP status the MCP endpoint answers an initialize with this bearer token."""
        headers = {"Accept": "application/json, text/event-stream"}
        if access_token is not None:
            headers["Authorization"] = f"Bearer {access_token}"
        body = {"jsonrpc": "2.0", "id": 1, "method": "initialize",
                "params": {"protocolVersion": "2025-06-18", "capabilities": {},
                           "clientInfo": {"name": "test", "version": "0"}}}
        async with _http() as http:
            response = await http.post(self.mcp_url, json=body, headers=headers)
        return response.status_code

    async def call_tool(self, access_token: str, tool: str,
                        arguments: dict[str, Any] | None = None) -> Any:
        """Call a tool of the protected MCP server with a bearer token; the result."""
        http = _http(headers={"Authorization": f"Bearer {access_token}"},
                     timeout=httpx2.Timeout(30, read=300))
        async with http, streamable_http_client(self.mcp_url, http_client=http) as streams:
            read, write = streams[0], streams[1]
            async with ClientSession(read, write) as session:
                await session.initialize()
                return await session.call_tool(tool, arguments or {})

    async def whoami(self, access_token: str) -> str:
        """The user the MCP server sees behind `access_token`."""
        result = await self.call_tool(access_token, "whoami")
        if result.is_error:
            raise AssertionError("whoami failed")
        return str(result.structured_content["result"])


def _challenge_switch(app: ASGIApp, servers: OAuthServers) -> ASGIApp:
    """Drop (advertise_resource_metadata off) or replace (resource_metadata_override) the 401's
    `resource_metadata`."""

    async def wrapped(scope: Scope, receive: Receive, send: Send) -> None:
        async def send_maybe_bare(message: Message) -> None:
            override = servers.resource_metadata_override
            if message["type"] == "http.response.start" and (
                    override or not servers.advertise_resource_metadata):
                challenge = b'Bearer error="invalid_token"'
                if override:
                    challenge += f', resource_metadata="{override}"'.encode()
                message = {**message, "headers": [
                    (name, challenge if name.lower() == b"www-authenticate"
                     else value) for name, value in message["headers"]]}
            await send(message)

        await app(scope, receive, send_maybe_bare)

    return wrapped


@contextlib.asynccontextmanager
async def run_oauth_servers(*, scopes: list[str] | None = None) -> AsyncIterator[OAuthServers]:
    """Start both servers on free loopback ports; stop them when the block ends."""
    as_sock, mcp_sock = listening_socket(), listening_socket()
    issuer = base_url(as_sock)
    mcp_url = f"{base_url(mcp_sock)}/mcp"
    auth_server = TestAuthorizationServer(issuer, scopes=scopes, resources=[mcp_url])
    servers = OAuthServers(
        auth_server=auth_server, issuer=issuer, mcp_url=mcp_url,
        resource_metadata_url=f"{base_url(mcp_sock)}/.well-known/oauth-protected-resource/mcp",
    )
    mcp_app = _challenge_switch(build_protected_mcp(auth_server, mcp_url, servers.notes), servers)
    async with serve_aiohttp(auth_server.app(), as_sock), serve_asgi(mcp_app, mcp_sock):
        yield servers
