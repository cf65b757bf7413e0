"""Sign development tokens; kept apart from the verifier so `voice-mcp token` and `ask`
load only the signing library, not the HTTP stack the JWKS fetch needs."""

from __future__ import annotations

import time
from typing import Any

from joserfc import jwt
from joserfc.jwk import OctKey

from voice_mcp.settings import Settings


def issue_dev_token(settings: Settings, user_id: str, ttl_s: int = 3600) -> str:
    """Sign a development token with VOICE_MCP_JWT_SECRET (for `voice-mcp token`)."""
    if settings.jwt_secret is None:
        raise ValueError("VOICE_MCP_JWT_SECRET is not set")
    now = int(time.time())
    claims: dict[str, Any] = {"sub": user_id, "iat": now, "exp": now + ttl_s}
    if settings.jwt_audience:
        claims["aud"] = settings.jwt_audience
    if settings.jwt_issuer:
        claims["iss"] = settings.jwt_issuer
    key = OctKey.import_key(settings.jwt_secret.get_secret_value())
    return jwt.encode({"alg": "HS256", "typ": "JWT"}, claims, key)
