"""Client bearer tokens: HS256 with a secret, or RS256/ES256 via JWKS.

See docs/api.md, "Authentication".
"""

from __future__ import annotations

import asyncio
import base64
import json
import time
import unicodedata
from typing import Any

import aiohttp
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet, OctKey

from voice_mcp.errors import ServiceUnavailable, Unauthorized
from voice_mcp.services.dev_tokens import issue_dev_token as issue_dev_token
from voice_mcp.settings import Settings

ASYMMETRIC_ALGS = ["RS256", "ES256"]
JWKS_TTL_S = 300.0
MAX_SUB_CHARS = 256  # user ids land in logs and key digests: bounded, no control characters


class JwksCache:
    """Fetch an identity provider's JWKS once, keep it for a while, re-fetch on an unknown kid."""

    def __init__(self, url: str, ttl_s: float = JWKS_TTL_S) -> None:
        self._url = url
        self._ttl_s = ttl_s
        self._keys: KeySet | None = None
        self._fetched_at = 0.0
        self._lock = asyncio.Lock()

    async def get(self, *, force: bool = False) -> KeySet:
        """Return the cached key set, fetching it when stale, missing or forced."""
        async with self._lock:
            fresh = time.monotonic() - self._fetched_at < self._ttl_s
            if self._keys is None or force or not fresh:
                # A forced re-fetch is rate limited so a flood of bad kids cannot hammer the IdP.
                if self._keys is not None and force and time.monotonic() - self._fetched_at < 10:
                    return self._keys
                self._keys = await self._fetch()
                self._fetched_at = time.monotonic()
            return self._keys

    async def _fetch(self) -> KeySet:
        try:
            timeout = aiohttp.ClientTimeout(total=10)
            async with aiohttp.ClientSession(timeout=timeout) as session, \
                    session.get(self._url) as response:
                response.raise_for_status()
                data = await response.json(content_type=None)
            return KeySet.import_key_set(data)
        except (aiohttp.ClientError, TimeoutError, ValueError, JoseError) as err:
            raise ServiceUnavailable("The identity provider's keys could not be fetched.",
                                     code="jwks_unavailable") from err


class TokenVerifier:
    """Verify a client's bearer token and return its user id (the `sub` claim)."""

    def __init__(self, settings: Settings) -> None:
        self._audience = settings.jwt_audience
        self._issuer = settings.jwt_issuer
        self._secret = OctKey.import_key(settings.jwt_secret.get_secret_value()) \
            if settings.jwt_secret else None
        self._jwks = JwksCache(settings.jwt_jwks_url) if settings.jwt_jwks_url else None

    @property
    def configured(self) -> bool:
        return self._secret is not None or self._jwks is not None

    async def verify(self, token: str) -> str:
        """Check signature, algorithm, expiry, issuer and audience; return `sub`."""
        if not self.configured:
            raise ServiceUnavailable(
                "Authentication is not configured: set VOICE_MCP_JWT_SECRET"
                " or VOICE_MCP_JWT_JWKS_URL.",
                code="auth_not_configured", retryable=False)
        header = _peek_header(token)
        alg = header.get("alg")
        if alg == "HS256" and self._secret is not None:
            claims = _decode(token, self._secret, ["HS256"])
        elif alg in ASYMMETRIC_ALGS and self._jwks is not None:
            claims = await self._decode_jwks(token)
        else:
            raise Unauthorized("The token's algorithm is not accepted.", code="invalid_token")
        return self._check_claims(claims)

    async def _decode_jwks(self, token: str) -> dict[str, Any]:
        assert self._jwks is not None
        keys = await self._jwks.get()
        try:
            return _decode(token, keys, ASYMMETRIC_ALGS)
        except Unauthorized:
            # The IdP may have rotated its keys since we fetched them.
            refreshed = await self._jwks.get(force=True)
            if refreshed is keys:
                raise
            return _decode(token, refreshed, ASYMMETRIC_ALGS)

    def _check_claims(self, claims: dict[str, Any]) -> str:
        options: dict[str, Any] = {"exp": {"essential": True}, "sub": {"essential": True}}
        if self._audience:
            options["aud"] = {"essential": True, "value": self._audience}
        if self._issuer:
            options["iss"] = {"essential": True, "value": self._issuer}
        try:
            jwt.JWTClaimsRegistry(leeway=30, **options).validate(claims)
        except JoseError as err:
            raise Unauthorized(_claim_message(err), code="invalid_token") from None
        sub = claims["sub"]
        if not isinstance(sub, str) or not sub:
            raise Unauthorized("The token has no user.", code="invalid_token")
        if len(sub) > MAX_SUB_CHARS or any(unicodedata.category(c) == "Cc" for c in sub):
            raise Unauthorized("The token's user id is not accepted.", code="invalid_token")
        return sub


def _peek_header(token: str) -> dict[str, Any]:
    """Read the unverified JOSE header, only to choose how to verify."""
    try:
        head = token.split(".")[0]
        decoded = json.loads(base64.urlsafe_b64decode(head + "=" * (-len(head) % 4)))
    except (ValueError, IndexError):
        decoded = None
    if not isinstance(decoded, dict) or token.count(".") != 2:
        raise Unauthorized("The token is malformed.", code="invalid_token")
    return decoded


def _decode(token: str, key: OctKey | KeySet, algorithms: list[str]) -> dict[str, Any]:
    try:
        return dict(jwt.decode(token, key, algorithms=algorithms).claims)
    except JoseError as err:
        raise Unauthorized("The token's signature is not valid.", code="invalid_token") from err
    except (ValueError, TypeError) as err:
        raise Unauthorized("The token is malformed.", code="invalid_token") from err


def _claim_message(err: JoseError) -> str:
    name = type(err).__name__
    if name == "ExpiredTokenError":
        return "The token has expired."
    return "The token's claims are not accepted."
