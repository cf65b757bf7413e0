"""Find a protected MCP server's authorization server: RFC 9728, then RFC 8414 (or OpenID).

Every URL a document names passes the URL policy (url_policy.py) before it is fetched or
kept, and no redirect is ever followed: a remote server must not steer this server's
requests into its own network.

The probe is an unauthenticated MCP request: a protected server answers 401 with
`WWW-Authenticate: Bearer resource_metadata="..."`; without that header the well-known
protected-resource URLs are tried, and with no protected-resource metadata at all the
MCP server's own origin is taken as the authorization server (the 2025-03-26 MCP rule).
"""

from __future__ import annotations

import logging
import re
from typing import Any
from urllib.parse import urlsplit

import httpx2
from pydantic import ValidationError

from voice_mcp.services.catalog import ServiceConfig
from voice_mcp.services.oauth.errors import discovery_failed
from voice_mcp.services.oauth.models import AuthServerMetadata, ResourceAuth
from voice_mcp.services.oauth.url_policy import Pinned, Resolver, UrlPolicy, UrlRefused, resolve

log = logging.getLogger(__name__)

MCP_PROTOCOL_VERSION = "2025-06-18"
# The metadata URLs this server fetches, posts to, or sends a browser to.
ENDPOINT_FIELDS = ("authorization_endpoint", "token_endpoint", "registration_endpoint",
                   "revocation_endpoint")
_AUTH_PARAM = re.compile(r'([A-Za-z0-9_-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,"]+))')
_INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 0,
    "method": "initialize",
    "params": {
        "protocolVersion": MCP_PROTOCOL_VERSION,
        "capabilities": {},
        "clientInfo": {"name": "voice-mcp", "version": "0"},
    },
}
STATELESS_VERSION = "2026-07-28"
# The first request of a 2026-07-28 client: servers that let `initialize` through unauthenticated
# still challenge it, with the scope a real request needs.
_DISCOVER = {
    "jsonrpc": "2.0",
    "id": 0,
    "method": "server/discover",
    "params": {"_meta": {
        "io.modelcontextprotocol/protocolVersion": STATELESS_VERSION,
        "io.modelcontextprotocol/clientInfo": {"name": "voice-mcp", "version": "0"},
        "io.modelcontextprotocol/clientCapabilities": {},
    }},
}
_PROBES = (
    (_DISCOVER, {"MCP-Protocol-Version": STATELESS_VERSION, "Mcp-Method": "server/discover"}),
    (_INITIALIZE, {"Mcp-Method": "initialize"}),
)


def bearer_challenge(header: str) -> dict[str, str]:
    """The auth-params of a `Bearer` WWW-Authenticate challenge (empty when not Bearer)."""
    scheme, _, params = header.strip().partition(" ")
    if scheme.lower() != "bearer":
        return {}
    return {
        m.group(1).lower(): (m.group(2) if m.group(2) is not None else m.group(3))
        .replace('\\"', '"')
        for m in _AUTH_PARAM.finditer(params)
    }


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def _path(url: str) -> str:
    return urlsplit(url).path.rstrip("/")


def protected_resource_urls(mcp_url: str) -> list[str]:
    """RFC 9728 section 3.1 well-known URLs: path-inserted first, then the root."""
    origin, path = _origin(mcp_url), _path(mcp_url)
    root = f"{origin}/.well-known/oauth-protected-resource"
    return [f"{root}{path}", root] if path else [root]


def authorization_server_urls(issuer: str) -> list[str]:
    """RFC 8414 section 3.1 URLs, then the OpenID Connect Discovery ones."""
    origin, path = _origin(issuer), _path(issuer)
    if not path:
        return [
            f"{origin}/.well-known/oauth-authorization-server",
            f"{origin}/.well-known/openid-configuration",
        ]
    return [
        f"{origin}/.well-known/oauth-authorization-server{path}",
        f"{origin}/.well-known/openid-configuration{path}",
        f"{origin}{path}/.well-known/openid-configuration",
    ]


def _same_issuer(a: str, b: str) -> bool:
    return a.rstrip("/") == b.rstrip("/")


def _same_resource(resource: str, mcp_url: str) -> bool:
    """True when the metadata's `resource` is the MCP URL or a parent of it (same origin)."""
    if _origin(resource).lower() != _origin(mcp_url).lower():
        return False
    parent, child = _path(resource), _path(mcp_url)
    return child == parent or child.startswith(parent + "/") or not parent


async def pin(service_id: str, url: str, policy: UrlPolicy, what: str) -> Pinned:
    """`url` checked by the policy and bound to its vetted address; discovery_failed if not."""
    try:
        return await policy.pin(url)
    except UrlRefused as err:
        log.warning("oauth discovery refused a url",
                    extra={"service": service_id, "field": what, "why": str(err)})
        raise discovery_failed(service_id, f"{what} was refused: {err}") from None


class Discoverer:
    """Discovery over one shared HTTP client; results are cached by the caller."""

    def __init__(self, http: httpx2.AsyncClient, resolver: Resolver = resolve) -> None:
        self._http = http
        self._resolver = resolver

    async def discover(self, service: ServiceConfig) -> ResourceAuth:
        """Find the authorization server and metadata that protect `service.url`."""
        assert service.url is not None  # the catalog demands a URL for HTTP transports
        mcp_url = service.url
        policy = await self.policy(service)
        challenge = await self._probe(service)
        hinted = challenge.get("resource_metadata")
        prm = await self._protected_resource(service.id, mcp_url, hinted, policy)
        resource, issuer, scopes = mcp_url, _origin(mcp_url), []
        if prm is not None:
            issuer = self._pick_issuer(service, prm)
            declared = prm.get("resource")
            if isinstance(declared, str) and declared:
                if not _same_resource(declared, mcp_url):
                    raise discovery_failed(service.id, "its metadata names another resource")
                resource = declared  # the resource server's own canonical identifier
            supported = prm.get("scopes_supported")
            if isinstance(supported, list):
                scopes = [s for s in supported if isinstance(s, str)]
        elif service.issuer and not _same_issuer(service.issuer, issuer):
            raise discovery_failed(service.id, "it does not name the issuer pinned in the catalog")
        if challenge.get("scope"):
            scopes = challenge["scope"].split()
        metadata = await self._authorization_server(service.id, issuer, policy)
        return ResourceAuth(mcp_url=mcp_url, resource=resource, metadata=metadata, scopes=scopes)

    async def policy(self, service: ServiceConfig) -> UrlPolicy:
        """The URL policy of a service: its zone is where its operator-configured URLs live."""
        assert service.url is not None
        trusted = [service.url] + ([service.issuer] if service.issuer else [])
        try:
            return await UrlPolicy.for_service(trusted, self._resolver)
        except UrlRefused as err:
            raise discovery_failed(service.id, f"its configured URL is unusable: {err}") from None

    @staticmethod
    def _pick_issuer(service: ServiceConfig, prm: dict[str, Any]) -> str:
        """The authorization server to use: the pinned one, which must be listed, else the first."""
        servers = prm.get("authorization_servers")
        if not isinstance(servers, list) or not servers or not isinstance(servers[0], str):
            raise discovery_failed(service.id, "no authorization server in its metadata")
        if not service.issuer:
            return servers[0]
        if not any(isinstance(s, str) and _same_issuer(s, service.issuer) for s in servers):
            raise discovery_failed(service.id, "it does not name the issuer pinned in the catalog")
        return service.issuer

    async def _probe(self, service: ServiceConfig) -> dict[str, str]:
        """Ask the MCP server without a token and read its Bearer challenge: `server/discover`
        (2026-07-28), then `initialize` for a server that did not challenge that."""
        assert service.url is not None
        headers = {"Accept": "application/json, text/event-stream", **service.headers}
        headers.pop("Authorization", None)
        if service.transport == "sse":
            return await self._challenge(service, self._http.build_request(
                "GET", service.url, headers=headers)) or {}
        for body, extra in _PROBES:
            challenge = await self._challenge(service, self._http.build_request(
                "POST", service.url, headers={**headers, **extra}, json=body))
            if challenge is not None:
                return challenge
        return {}

    async def _challenge(self, service: ServiceConfig,
                         request: httpx2.Request) -> dict[str, str] | None:
        """The Bearer challenge of a 401 (empty without one); None when it was not a 401."""
        try:
            # Stream and never read the body: an unprotected server may answer an SSE stream.
            response = await self._http.send(request, stream=True, follow_redirects=False)
            await response.aclose()
        except httpx2.HTTPError:
            raise discovery_failed(service.id, "the MCP server does not answer") from None
        if response.status_code != 401:
            return None
        return bearer_challenge(response.headers.get("www-authenticate", ""))

    async def _protected_resource(self, service_id: str, mcp_url: str, hinted: str | None,
                                  policy: UrlPolicy) -> dict[str, Any] | None:
        candidates = ([hinted] if hinted else []) + protected_resource_urls(mcp_url)
        for url in candidates:
            document = await self._get_json(service_id, url, policy)
            if document is not None:
                return document
        return None

    async def _authorization_server(self, service_id: str, issuer: str,
                                    policy: UrlPolicy) -> AuthServerMetadata:
        await self._allowed(service_id, issuer, policy, "its authorization server")
        for url in authorization_server_urls(issuer):
            document = await self._get_json(service_id, url, policy)
            if document is None:
                continue
            try:
                metadata = AuthServerMetadata.model_validate(document)
            except ValidationError:
                raise discovery_failed(service_id, "its metadata is incomplete") from None
            # RFC 8414 section 3.3: the issuer must be the one we asked about (mix-up defence).
            if not _same_issuer(metadata.issuer, issuer):
                raise discovery_failed(service_id, "its metadata names another issuer")
            if "code" not in metadata.response_types_supported:
                raise discovery_failed(service_id, "it does not offer the authorization code flow")
            methods = metadata.code_challenge_methods_supported
            if methods is not None and "S256" not in methods:
                raise discovery_failed(service_id, "it does not support PKCE S256")
            for field in ENDPOINT_FIELDS:
                endpoint = getattr(metadata, field)
                if endpoint is not None:
                    await self._allowed(service_id, endpoint, policy, f"its {field}")
            return metadata
        raise discovery_failed(service_id, "no authorization server metadata found")

    @staticmethod
    async def _allowed(service_id: str, url: str, policy: UrlPolicy, what: str) -> None:
        await pin(service_id, url, policy, what)

    async def _get_json(self, service_id: str, url: str,
                        policy: UrlPolicy) -> dict[str, Any] | None:
        """A JSON object from `url`, None on 3xx/4xx or a non-object; network failures raise."""
        target = await pin(service_id, url, policy, "a metadata URL")
        try:
            response = await self._http.get(
                target.url, follow_redirects=False, extensions=target.extensions,
                headers={"Accept": "application/json",
                         "MCP-Protocol-Version": MCP_PROTOCOL_VERSION, **target.headers})
        except httpx2.HTTPError:
            raise discovery_failed(service_id, "its metadata cannot be fetched") from None
        if response.status_code >= 500:
            raise discovery_failed(service_id, f"its metadata answered {response.status_code}")
        if response.status_code != 200:
            log.debug("no metadata", extra={"service": service_id, "status": response.status_code})
            return None
        try:
            document = response.json()
        except ValueError:
            return None
        return document if isinstance(document, dict) else None
