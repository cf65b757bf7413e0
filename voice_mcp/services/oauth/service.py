"""OAuthService: the one object routes and the MCP layer use for OAuth-connected services."""

from __future__ import annotations

import dataclasses
import logging
import secrets
import time
from collections.abc import Awaitable, Callable
from urllib.parse import urlencode, urlsplit

import httpx2
from cryptography.fernet import Fernet
from redis.asyncio import Redis

from voice_mcp.errors import AppError, Forbidden, NotFound
from voice_mcp.services.catalog import Catalog, ServiceConfig
from voice_mcp.services.oauth.clients import ClientResolver
from voice_mcp.services.oauth.crypto import TokenCipher
from voice_mcp.services.oauth.flow import AuthorizationFlow, StartRedirect, cookie_name
from voice_mcp.services.oauth.models import (
    CallbackResult,
    ConnectionStatus,
    PendingGrant,
    TokenSet,
)
from voice_mcp.services.oauth.refresh import TokenManager
from voice_mcp.services.oauth.registration import metadata_document
from voice_mcp.services.oauth.storage import CorruptRecord, OAuthStore
from voice_mcp.services.oauth.tokens import TokenEndpoint
from voice_mcp.services.oauth.url_policy import Resolver, resolve
from voice_mcp.settings import Settings

log = logging.getLogger(__name__)

ConnectionHook = Callable[[str, str], Awaitable[None]]
"""Called with (user_id, service_id) after a grant was stored or removed."""
HttpClientFactory = Callable[[], httpx2.AsyncClient]

CALLBACK_PATH = "/oauth/callback"
START_PATH = "/oauth/start"
GRANT_TTL_S = 600  # how long a finished sign-in waits for its user's grant request


class OAuthService:
    """Connect, use and disconnect users' OAuth grants for the catalog's `auth = "oauth"` services.

    Implements the MCP layer's TokenProvider (`access_token`, `refresh_after_unauthorized`).
    `on_connected` / `on_disconnected`, given at construction, learn when a user's grant
    changed, e.g. to close MCP sessions opened with the old token.
    """

    def __init__(self, settings: Settings, catalog: Catalog, redis: Redis,
                 http_client_factory: HttpClientFactory | None = None, *,
                 state_ttl_s: int = 600, refresh_leeway_s: float = 60.0,
                 metadata_ttl_s: int = 3600, clock: Callable[[], float] = time.time,
                 resolver: Resolver = resolve, on_connected: ConnectionHook | None = None,
                 on_disconnected: ConnectionHook | None = None) -> None:
        self._catalog = catalog
        self._public_url = settings.public_url
        keys = settings.token_keys
        if not keys and not catalog.needs_token_key:
            keys = [Fernet.generate_key().decode()]  # nothing will ever be stored with it
        self._store = OAuthStore(redis, TokenCipher(keys))
        timeout_s = settings.discovery_timeout_s
        ssl_context = httpx2.create_ssl_context()  # made once: it is the slow part of a client
        endpoint = TokenEndpoint(timeout_s=timeout_s, clock=clock, ssl_context=ssl_context)
        self._http = (http_client_factory or (lambda: httpx2.AsyncClient(
            timeout=timeout_s, follow_redirects=False, verify=ssl_context)))()
        # Long enough for a discovery plus a token request; a crashed holder frees it then.
        lock_timeout_s = 3 * timeout_s + 5
        self._resolver = ClientResolver(
            self._store, self._http, public_url=settings.public_url,
            redirect_uri=settings.public_url + CALLBACK_PATH,
            metadata_ttl_s=metadata_ttl_s, lock_timeout_s=lock_timeout_s, resolver=resolver,
        )
        self._endpoint = endpoint
        self._tokens = TokenManager(self._store, self._resolver, endpoint,
                                    leeway_s=refresh_leeway_s, lock_timeout_s=lock_timeout_s,
                                    clock=clock)
        self._flow = AuthorizationFlow(catalog, self._store, self._resolver, endpoint,
                                       state_ttl_s=state_ttl_s, clock=clock)
        self._on_connected = on_connected
        self._on_disconnected = on_disconnected

    @property
    def redirect_uri(self) -> str:
        """The callback URL registered with providers (settings.public_url + /oauth/callback)."""
        return self._resolver.redirect_uri

    def client_metadata(self) -> dict[str, object]:
        """This server's Client ID Metadata Document (docs/oauth.md), public by design."""
        return metadata_document(self._resolver.document_url, self.redirect_uri)

    @property
    def cookie_path(self) -> str:
        """The callback's path as the browser sees it (the public URL may carry a prefix)."""
        return urlsplit(self._public_url).path.rstrip("/") + CALLBACK_PATH

    @property
    def cookie_secure(self) -> bool:
        """Whether the browser-binding cookie needs the Secure flag (an https public URL)."""
        return self._public_url.startswith("https://")

    async def start(self, user_id: str, service_id: str) -> str:
        """Begin connecting a service: the start link (this server's) to send the user to."""
        state = await self._flow.start(user_id, self._oauth_service(service_id))
        return f"{self._public_url}{START_PATH}?{urlencode({'state': state})}"

    async def open_start(self, state: str | None) -> StartRedirect:
        """The start link was opened: the cookie to set and the provider URL to go on to."""
        return await self._flow.open(state)

    @staticmethod
    def cookie_name(state: str) -> str:
        """The name of the browser-binding cookie of `state`."""
        return cookie_name(state)

    async def complete(self, code: str | None, state: str | None, error: str | None = None, *,
                       browser_secret: str | None, iss: str | None = None,
                       user_id: str | None = None) -> CallbackResult:
        """Finish the callback: CallbackError (a BadRequest) when anything is wrong.

        Nothing is stored for the user yet: the tokens wait under a one-time grant handle
        (`result.grant`) that only this browser learns, until `redeem` by the user who started.
        `browser_secret` is the cookie the start link set; `iss` the RFC 9207 parameter.
        `user_id`, when the caller knows who is at the browser, must match the user who started.
        """
        result, tokens = await self._flow.complete(code, state, error,
                                                   browser_secret=browser_secret, iss=iss,
                                                   user_id=user_id)
        handle = secrets.token_urlsafe(32)
        await self._store.save_grant(handle, PendingGrant(
            user_id=result.user_id, service_id=result.service_id, tokens=tokens),
            GRANT_TTL_S)
        return dataclasses.replace(result, grant=handle)

    async def redeem(self, user_id: str, service_id: str, handle: str) -> None:
        """Store a waiting grant for `user_id`, who must be the user who started the sign-in.

        NotFound for an unknown, expired or used handle (or another service's); Forbidden for
        another user, and the grant is gone then too: a handle is taken out before it is checked.
        """
        service = self._oauth_service(service_id)
        grant = await self._store.take_grant(handle) if handle else None
        if grant is None or grant.service_id != service.id:
            raise NotFound("This sign-in is unknown, expired or already used; connect the"
                           " service again.", code="grant_not_found")
        if grant.user_id != user_id:
            log.warning("oauth grant presented by another user", extra={"service": service.id})
            raise Forbidden("This sign-in was started by another user; nothing was stored.",
                            code="grant_forbidden")
        async with self._tokens.locked(user_id, service.id):
            await self._store.save_tokens(user_id, service.id, grant.tokens)
        log.info("oauth service connected", extra={"service": service.id})
        await self._fire(self._on_connected, user_id, service.id)

    async def disconnect(self, user_id: str, service_id: str) -> None:
        """Revoke (where offered) and forget the user's grant; idempotent."""
        service = self._oauth_service(service_id)
        async with self._tokens.locked(user_id, service_id):
            try:
                tokens = await self._store.get_tokens(user_id, service_id)
            except CorruptRecord:
                tokens = None
            await self._store.delete_grant(user_id, service_id)
        if tokens is not None:
            await self._revoke(service, tokens)
        await self._fire(self._on_disconnected, user_id, service_id)

    async def status(self, user_id: str) -> dict[str, ConnectionStatus]:
        """Every catalog service with whether this user can use it now."""
        oauth_ids = [s.id for s in self._catalog.services.values() if s.auth == "oauth"]
        flags = await self._store.connection_flags(user_id, oauth_ids) if oauth_ids else {}
        answer: dict[str, ConnectionStatus] = {}
        for service in self._catalog.services.values():
            if service.auth == "oauth":
                connected, needs_reauth = flags[service.id]
                answer[service.id] = ConnectionStatus("oauth", connected, needs_reauth)
            else:
                answer[service.id] = ConnectionStatus(service.auth, connected=True)
        return answer

    async def access_token(self, user_id: str, service: ServiceConfig) -> str:
        """TokenProvider: a valid access token (NotConnected, ReauthRequired)."""
        return await self._tokens.access_token(user_id, self._oauth_service(service.id))

    async def refresh_after_unauthorized(self, user_id: str, service: ServiceConfig,
                                         rejected: str) -> str:
        """TokenProvider: a new access token after the MCP server refused `rejected`."""
        return await self._tokens.refresh_after_unauthorized(
            user_id, self._oauth_service(service.id), rejected)

    async def insufficient_scope(self, user_id: str, service: ServiceConfig,
                                 required: list[str]) -> None:
        """TokenProvider: a 403 `insufficient_scope`. The next sign-in asks for the union of the
        scopes held and required (docs/oauth.md, "More access"); `needsReauth` says so."""
        service = self._oauth_service(service.id)
        try:
            held = await self._store.get_tokens(user_id, service.id)
        except CorruptRecord:
            held = None
        granted = held.scope.split() if held is not None and held.scope else []
        await self._store.ask_for_scopes(user_id, service.id, [*granted, *required])
        log.info("oauth service needs more access", extra={"service": service.id})

    async def close(self) -> None:
        """Close the HTTP client used for discovery and registration."""
        await self._http.aclose()

    def _oauth_service(self, service_id: str) -> ServiceConfig:
        service = self._catalog.get(service_id)
        if service is None:
            raise NotFound(f"Unknown service '{service_id}'.", code="service_not_found")
        if service.auth != "oauth":
            raise NotFound(f"Service '{service_id}' does not use OAuth.", code="service_not_oauth")
        return service

    async def _revoke(self, service: ServiceConfig, tokens: TokenSet) -> None:
        """Best effort: a provider that fails to revoke must not keep the user connected."""
        try:
            found = await self._resolver.resource_auth(service)
            client = await self._resolver.stored_client(service, found)
            policy = await self._resolver.policy(service)
        except AppError as err:
            log.warning("oauth revocation skipped", extra={"service": service.id,
                                                           "error": err.code})
            return
        if client is None or not found.metadata.revocation_endpoint:
            return
        if tokens.refresh_token:
            await self._endpoint.revoke(client, found.metadata, tokens.refresh_token,
                                        "refresh_token", policy=policy)
        await self._endpoint.revoke(client, found.metadata, tokens.access_token, "access_token",
                                    policy=policy)

    @staticmethod
    async def _fire(hook: ConnectionHook | None, user_id: str, service_id: str) -> None:
        if hook is None:
            return
        try:
            await hook(user_id, service_id)
        except Exception as err:  # a listener's failure must not undo a stored grant
            log.warning("oauth hook failed", extra={"service": service_id,
                                                    "error": type(err).__name__})
