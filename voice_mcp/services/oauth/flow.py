"""The authorization code flow with PKCE: build the URL, then check the callback and exchange."""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable

from authlib.common.security import generate_token

from voice_mcp.services.catalog import Catalog, ServiceConfig
from voice_mcp.services.oauth.clients import ClientResolver
from voice_mcp.services.oauth.errors import CallbackError, safe_code
from voice_mcp.services.oauth.models import CallbackResult, PendingAuthorization, TokenSet
from voice_mcp.services.oauth.storage import OAuthStore
from voice_mcp.services.oauth.tokens import GrantRejected, ProviderUnavailable, TokenEndpoint

log = logging.getLogger(__name__)

# The pending record outlives its validity a little so a late callback is told "expired"
# rather than "unknown".
EXPIRED_GRACE_S = 300
_INVALID_STATE = "This sign-in link is invalid or was already used; connect the service again."


class AuthorizationFlow:
    """Start and complete authorizations; the state is the only thing the browser carries."""

    def __init__(self, catalog: Catalog, store: OAuthStore, resolver: ClientResolver,
                 endpoint: TokenEndpoint, *, state_ttl_s: int,
                 clock: Callable[[], float]) -> None:
        self._catalog = catalog
        self._store = store
        self._resolver = resolver
        self._endpoint = endpoint
        self._state_ttl_s = state_ttl_s
        self._clock = clock

    async def start(self, user_id: str, service: ServiceConfig) -> str:
        """Record a single-use state for this user and service; answer the authorization URL."""
        found = await self._resolver.resource_auth(service)
        client = await self._resolver.client(service, found)
        state = secrets.token_urlsafe(32)  # 256 bits
        verifier = generate_token(64)  # RFC 7636: 43 to 128 unreserved characters
        pending = PendingAuthorization(
            user_id=user_id, service_id=service.id, client_id=client.client_id,
            code_verifier=verifier, redirect_uri=client.redirect_uri, resource=found.resource,
            expires_at=self._clock() + self._state_ttl_s,
        )
        await self._store.save_pending(state, pending, self._state_ttl_s + EXPIRED_GRACE_S)
        return await self._endpoint.authorization_url(
            client, found.metadata, state=state, code_verifier=verifier,
            scopes=service.scopes or found.scopes, resource=found.resource,
        )

    async def complete(self, code: str | None, state: str | None, error: str | None = None,
                       *, user_id: str | None = None) -> tuple[CallbackResult, TokenSet]:
        """Check the state, then the provider's answer, then exchange the code."""
        pending = await self._store.pop_pending(state) if state else None
        service = self._catalog.get(pending.service_id) if pending else None
        if pending is None or service is None or service.auth != "oauth":
            raise CallbackError("invalid_state", _INVALID_STATE)
        if user_id is not None and user_id != pending.user_id:
            raise CallbackError("invalid_state", _INVALID_STATE)
        if self._clock() >= pending.expires_at:
            raise CallbackError("state_expired", "This sign-in took too long; connect"
                                f" {service.title} again.", service_id=service.id)
        if error is not None:
            raise self._provider_error(service, error)
        if not code:
            raise CallbackError("oauth_failed", f"{service.title} sent no authorization code.",
                                service_id=service.id)
        tokens = await self._exchange(service, pending, code)
        return CallbackResult(pending.user_id, service.id, service.title), tokens

    async def _exchange(self, service: ServiceConfig, pending: PendingAuthorization,
                        code: str) -> TokenSet:
        found = await self._resolver.resource_auth(service)
        client = await self._resolver.stored_client(service, found)
        if client is None or client.client_id != pending.client_id:
            raise CallbackError("oauth_failed", f"The {service.title} client changed during"
                                " sign-in; connect again.", service_id=service.id)
        try:
            return await self._endpoint.exchange_code(
                client, found.metadata, code=code, code_verifier=pending.code_verifier,
                resource=pending.resource,
            )
        except GrantRejected as err:
            log.info("oauth code refused", extra={"service": service.id, "error": err.error})
            raise CallbackError("oauth_failed", f"{service.title} refused the sign-in"
                                f" ({err.error}); connect again.", service_id=service.id) from None
        except ProviderUnavailable as err:
            log.warning("oauth code exchange failed", extra={"service": service.id,
                                                             "error": str(err)})
            raise CallbackError("oauth_failed", f"{service.title} did not complete the sign-in;"
                                " connect again.", service_id=service.id) from None

    @staticmethod
    def _provider_error(service: ServiceConfig, error: str) -> CallbackError:
        if error == "access_denied":
            return CallbackError("oauth_denied", f"Access to {service.title} was not granted.",
                                 service_id=service.id)
        code = safe_code(error) or "error"  # the provider's text is not repeated verbatim
        return CallbackError("oauth_failed", f"{service.title} refused the sign-in ({code}).",
                             service_id=service.id)
