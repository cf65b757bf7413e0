"""Development sign-in with nothing configured (docs/api.md, "Settings").

On a loopback address with no client authentication, `serve`, `token` and `ask` share one
secret kept in the state directory; it signs development tokens. Kept free of the settings
model and the HTTP stack so that the client commands start fast.
"""

from __future__ import annotations

import ipaddress
import os
import secrets
import time
from pathlib import Path
from typing import Any

DEV_SECRET_FILE = "dev-jwt-secret"
MIN_SECRET_BYTES = 32


def is_loopback(host: str) -> bool:
    """True for a listen address only this machine can reach."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def reachable_without_auth(host: str) -> str:
    """The one line that refuses a non-loopback address with no client authentication."""
    return (f"VOICE_MCP_HOST={host} is reachable from other machines: set"
            " VOICE_MCP_JWT_SECRET (openssl rand -hex 32) or VOICE_MCP_JWT_JWKS_URL with"
            " VOICE_MCP_JWT_ISSUER and VOICE_MCP_JWT_AUDIENCE")


def state_home(configured: Path | None) -> Path:
    """Where voice-mcp keeps what it makes for itself (XDG state directory by default)."""
    if configured is not None:
        return configured
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "voice-mcp"


def load_or_make_dev_secret(state: Path) -> str:
    """The development secret in `state`, made (mode 0600) on first use."""
    path = state / DEV_SECRET_FILE
    if path.is_file():
        found = path.read_text(encoding="utf-8").strip()
        if len(found) >= MIN_SECRET_BYTES:
            return found
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    secret = secrets.token_hex(32)
    # Created private: other accounts on the machine must not mint tokens.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(secret + "\n")
    return secret


def sign_dev_token(secret: str, user_id: str, ttl_s: int, *, issuer: str | None = None,
                   audience: str | None = None) -> str:
    """An HS256 token for `user_id`, as the server's verifier expects it."""
    from joserfc import jwt
    from joserfc.jwk import OctKey

    now = int(time.time())
    claims: dict[str, Any] = {"sub": user_id, "iat": now, "exp": now + ttl_s}
    if audience:
        claims["aud"] = audience
    if issuer:
        claims["iss"] = issuer
    return jwt.encode({"alg": "HS256", "typ": "JWT"}, claims, OctKey.import_key(secret))
