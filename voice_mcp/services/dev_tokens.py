"""Sign development tokens with the configured secret (the signing itself is dev_auth's, which
the client commands use without the settings model)."""

from __future__ import annotations

from voice_mcp.dev_auth import sign_dev_token
from voice_mcp.settings import Settings


def issue_dev_token(settings: Settings, user_id: str, ttl_s: int = 3600) -> str:
    """Sign a development token with VOICE_MCP_JWT_SECRET (for `voice-mcp token`)."""
    if settings.jwt_secret is None:
        raise ValueError("VOICE_MCP_JWT_SECRET is not set")
    return sign_dev_token(settings.jwt_secret.get_secret_value(), user_id, ttl_s,
                          issuer=settings.jwt_issuer, audience=settings.jwt_audience)
