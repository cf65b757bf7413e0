"""The token endpoint through authlib's client: PKCE URL, code exchange, refresh, revocation.

One short-lived `AsyncOAuth2Client` per operation, because authlib keeps the token on the
client object and our grants belong to many users; they share one SSL context, which is
the expensive part of making an HTTP client.
"""

from __future__ import annotations

import logging
import ssl
from collections.abc import Callable
from typing import Any

import httpx2
from authlib.integrations.base_client import OAuthError
from authlib.integrations.httpx_client import AsyncOAuth2Client

from voice_mcp.services.oauth.errors import safe_code
from voice_mcp.services.oauth.models import AuthServerMetadata, ClientInfo, TokenSet
from voice_mcp.services.oauth.pinning import PinnedTransport
from voice_mcp.services.oauth.url_policy import UrlPolicy

log = logging.getLogger(__name__)

# Token-endpoint errors that mean the grant or the client is gone for good (RFC 6749 5.2).
FATAL_ERRORS = frozenset(
    {"invalid_grant", "invalid_client", "unauthorized_client", "invalid_scope",
     "unsupported_grant_type", "invalid_target", "access_denied"}
)


class GrantRejected(Exception):
    """The authorization server refused the grant (permanent); `error` is its code."""

    def __init__(self, error: str) -> None:
        super().__init__(error)
        self.error = error


class ProviderUnavailable(Exception):
    """The authorization server could not be reached or failed (may pass)."""


class TokenEndpoint:
    """Speaks to one authorization server's token and revocation endpoints."""

    def __init__(self, *, timeout_s: float, clock: Callable[[], float],
                 ssl_context: ssl.SSLContext | None = None) -> None:
        self._timeout_s = timeout_s
        self._clock = clock
        self._ssl = ssl_context or httpx2.create_ssl_context()

    def _client(self, client: ClientInfo, policy: UrlPolicy | None = None,
                **kwargs: Any) -> AsyncOAuth2Client:
        if policy is not None:  # every request that reaches the network is pinned
            kwargs["transport"] = PinnedTransport(
                policy, httpx2.AsyncHTTPTransport(verify=self._ssl))
        return AsyncOAuth2Client(
            client_id=client.client_id,
            client_secret=client.client_secret,
            token_endpoint_auth_method=client.token_endpoint_auth_method,
            revocation_endpoint_auth_method=client.token_endpoint_auth_method,
            redirect_uri=client.redirect_uri,
            timeout=self._timeout_s,
            verify=self._ssl,
            follow_redirects=False,
            **kwargs,
        )

    async def authorization_url(self, client: ClientInfo, metadata: AuthServerMetadata, *,
                                state: str, code_verifier: str, scopes: list[str],
                                resource: str) -> str:
        """The URL the user opens: code flow, PKCE S256, RFC 8707 resource."""
        async with self._client(client, code_challenge_method="S256") as oauth:
            extra: dict[str, str] = {"resource": resource}
            if scopes:
                extra["scope"] = " ".join(scopes)
            url, _ = oauth.create_authorization_url(
                metadata.authorization_endpoint, state=state, code_verifier=code_verifier,
                **extra,
            )
        return str(url)

    async def exchange_code(self, client: ClientInfo, metadata: AuthServerMetadata, *,
                            code: str, code_verifier: str, resource: str,
                            policy: UrlPolicy) -> TokenSet:
        """Trade an authorization code and its verifier for tokens."""
        async with self._client(client, policy) as oauth:
            token = await self._call(oauth.fetch_token(
                metadata.token_endpoint, grant_type="authorization_code", code=code,
                code_verifier=code_verifier, redirect_uri=client.redirect_uri,
                resource=resource,
            ))
        return self._token_set(token, previous=None).model_copy(
            update={"issuer": metadata.issuer})

    async def refresh(self, client: ClientInfo, metadata: AuthServerMetadata,
                      tokens: TokenSet, *, resource: str, policy: UrlPolicy) -> TokenSet:
        """Use the refresh token; keep the old one unless the server rotated it."""
        assert tokens.refresh_token is not None
        async with self._client(client, policy) as oauth:
            token = await self._call(oauth.refresh_token(
                metadata.token_endpoint, refresh_token=tokens.refresh_token, resource=resource,
            ))
        return self._token_set(token, previous=tokens).model_copy(
            update={"issuer": metadata.issuer})

    async def revoke(self, client: ClientInfo, metadata: AuthServerMetadata, token: str,
                     hint: str, *, policy: UrlPolicy) -> bool:
        """RFC 7009 revocation; False (logged) when it failed, which never blocks a disconnect."""
        if not metadata.revocation_endpoint:
            return False
        try:
            async with self._client(client, policy) as oauth:
                response = await oauth.revoke_token(metadata.revocation_endpoint, token=token,
                                                    token_type_hint=hint)
        except httpx2.HTTPError as err:
            log.warning("token revocation failed", extra={"error": type(err).__name__})
            return False
        if response.status_code != 200:
            log.warning("token revocation refused", extra={"status": response.status_code})
            return False
        return True

    async def _call(self, request: Any) -> dict[str, Any]:
        """Await an authlib token call, sorting failures into permanent and passing ones."""
        try:
            token = await request
        except OAuthError as err:
            code = safe_code(err.error) or "oauth_error"
            if code in FATAL_ERRORS:
                raise GrantRejected(code) from None
            raise ProviderUnavailable(code) from None
        except httpx2.HTTPStatusError as err:
            status = err.response.status_code
            if 400 <= status < 500 and status not in (408, 429):
                raise GrantRejected(f"http_{status}") from None
            raise ProviderUnavailable(f"http_{status}") from None
        except (httpx2.HTTPError, ValueError) as err:
            raise ProviderUnavailable(type(err).__name__) from None
        if not isinstance(token, dict) or not isinstance(token.get("access_token"), str):
            raise ProviderUnavailable("no access_token")
        return dict(token)

    def _token_set(self, token: dict[str, Any], previous: TokenSet | None) -> TokenSet:
        expires_at: float | None = None
        expires_in = token.get("expires_in")
        if isinstance(expires_in, int | float) and not isinstance(expires_in, bool):
            expires_at = self._clock() + float(expires_in)
        elif isinstance(token.get("expires_at"), int | float):
            expires_at = float(token["expires_at"])
        refresh = token.get("refresh_token")
        if not isinstance(refresh, str) or not refresh:
            refresh = previous.refresh_token if previous else None
        scope = token.get("scope")
        if not isinstance(scope, str):
            scope = previous.scope if previous else None
        token_type = token.get("token_type")
        return TokenSet(
            access_token=token["access_token"],
            token_type=token_type if isinstance(token_type, str) else "Bearer",
            refresh_token=refresh,
            expires_at=expires_at,
            scope=scope,
        )
