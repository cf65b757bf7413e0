"""The authorization code flow with PKCE, bound to one browser (docs/oauth.md).

`start` records a state and answers it; the start link (`/oauth/start?state=`) opens it once,
binding a random cookie (only its hash is stored) to the state before the browser goes on to
the provider; `complete` accepts the callback only from the browser holding that cookie.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass

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
# The start link is opened by the app right after connect; a short window limits a stolen link.
START_WINDOW_S = 120
# Pending authorizations kept per user and service; older ones are dropped.
MAX_PENDING = 3
COOKIE_PREFIX = "vm_oauth_"
_INVALID_STATE = "This sign-in link is invalid or was already used; connect the service again."
_OTHER_BROWSER = ("This sign-in was not started in this browser (or its cookie is missing);"
                  " connect the service again from this browser.")


def cookie_name(state: str) -> str:
    """The browser-binding cookie of one state (several sign-ins may run side by side)."""
    return COOKIE_PREFIX + hashlib.sha256(state.encode("utf-8", "surrogatepass")).hexdigest()[:16]


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()


@dataclass(frozen=True)
class BrowserCookie:
    """The cookie the start link sets; the route adds HttpOnly, SameSite=Lax and Secure."""

    name: str
    value: str
    max_age: int

    def __repr__(self) -> str:
        return f"BrowserCookie(name={self.name!r})"


@dataclass(frozen=True)
class StartRedirect:
    """Where the start link sends the browser, and the cookie it sets first."""

    url: str
    cookie: BrowserCookie


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
        """Record a single-use state for this user and service (at most MAX_PENDING); answer it."""
        found = await self._resolver.resource_auth(service)
        client = await self._resolver.client(service, found)
        state = secrets.token_urlsafe(32)  # 256 bits
        verifier = generate_token(64)  # RFC 7636: 43 to 128 unreserved characters
        url = await self._endpoint.authorization_url(
            client, found.metadata, state=state, code_verifier=verifier,
            scopes=await self._scopes(user_id, service, found.scopes), resource=found.resource,
        )
        now = self._clock()
        pending = PendingAuthorization(
            user_id=user_id, service_id=service.id, client_id=client.client_id,
            code_verifier=verifier, redirect_uri=client.redirect_uri, resource=found.resource,
            expires_at=now + self._state_ttl_s, issuer=found.metadata.issuer,
            iss_required=found.metadata.authorization_response_iss_parameter_supported,
            authorization_url=url, open_by=now + min(START_WINDOW_S, self._state_ttl_s),
        )
        await self._store.save_pending(state, pending, self._state_ttl_s + EXPIRED_GRACE_S,
                                       keep=MAX_PENDING)
        return state

    async def _scopes(self, user_id: str, service: ServiceConfig,
                      suggested: list[str]) -> list[str]:
        """The catalog's scopes (else the resource's), plus what a step-up asked for: the union
        of the scopes held and required (SEP-2350), in a stable order."""
        wanted = await self._store.wanted_scopes(user_id, service.id)
        base = service.scopes or suggested
        return [*base, *sorted(wanted - set(base))]

    async def open(self, state: str | None) -> StartRedirect:
        """The start link: bind the state to this browser (once), then on to the provider."""
        pending = await self._store.get_pending(state) if state else None
        if state is None or pending is None or self._catalog.get(pending.service_id) is None:
            raise CallbackError("invalid_state", _INVALID_STATE)
        now = self._clock()
        if now >= pending.open_by:
            raise CallbackError("state_expired", "This sign-in link has expired; connect the"
                                " service again.", service_id=pending.service_id)
        secret = secrets.token_urlsafe(32)
        lifetime = int(pending.expires_at - now) + 1
        if not await self._store.bind_browser(state, _hash(secret),
                                              lifetime + EXPIRED_GRACE_S):
            raise CallbackError("invalid_state", "This sign-in link was already opened; connect"
                                " the service again.", service_id=pending.service_id)
        return StartRedirect(pending.authorization_url,
                             BrowserCookie(cookie_name(state), secret, lifetime))

    async def complete(self, code: str | None, state: str | None, error: str | None = None,
                       *, browser_secret: str | None, iss: str | None = None,
                       user_id: str | None = None) -> tuple[CallbackResult, TokenSet]:
        """Check the state, the browser, the issuer, then the provider's answer; exchange."""
        pending, bound = await self._store.pop_pending(state) if state else (None, None)
        service = self._catalog.get(pending.service_id) if pending else None
        if pending is None or service is None or service.auth != "oauth":
            raise CallbackError("invalid_state", _INVALID_STATE)
        if bound is None or not browser_secret \
                or not hmac.compare_digest(_hash(browser_secret), bound):
            raise CallbackError("browser_mismatch", _OTHER_BROWSER, service_id=service.id)
        if user_id is not None and user_id != pending.user_id:
            raise CallbackError("invalid_state", _INVALID_STATE)
        if self._clock() >= pending.expires_at:
            raise CallbackError("state_expired", "This sign-in took too long; connect"
                                f" {service.title} again.", service_id=service.id)
        self._check_issuer(service, pending, iss)
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
        policy = await self._resolver.policy(service)
        try:
            return await self._endpoint.exchange_code(
                client, found.metadata, code=code, code_verifier=pending.code_verifier,
                resource=pending.resource, policy=policy,
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
    def _check_issuer(service: ServiceConfig, pending: PendingAuthorization,
                      iss: str | None) -> None:
        """RFC 9207: an answer naming another issuer (or none, when promised) is a mix-up.

        Compared exactly (RFC 9207 section 2.4, simple string comparison): no case folding,
        no trailing-slash or default-port normalization.
        """
        if iss is None and not pending.iss_required:
            return
        if iss is None or iss != pending.issuer:
            log.warning("oauth callback from another issuer", extra={"service": service.id})
            raise CallbackError("issuer_mismatch", f"The sign-in answer did not come from the"
                                f" authorization server of {service.title}; nothing was stored."
                                " Connect again.", service_id=service.id)

    @staticmethod
    def _provider_error(service: ServiceConfig, error: str) -> CallbackError:
        if error == "access_denied":
            return CallbackError("oauth_denied", f"Access to {service.title} was not granted.",
                                 service_id=service.id)
        code = safe_code(error) or "error"  # the provider's text is not repeated verbatim
        return CallbackError("oauth_failed", f"{service.title} refused the sign-in ({code}).",
                             service_id=service.id)
