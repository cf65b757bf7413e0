"""The settings a client command reads (docs/api.md, "Command line"), without the server's
settings model: importing pydantic-settings alone takes longer than the client's whole
start-up budget. Same sources and precedence: the environment, then `.env`; empty is unset.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from dotenv import dotenv_values

from voice_mcp.config_error import ConfigError
from voice_mcp.dev_auth import (
    MIN_SECRET_BYTES,
    is_loopback,
    load_or_make_dev_secret,
    reachable_without_auth,
    sign_dev_token,
    state_home,
)

NO_SECRET = "VOICE_MCP_JWT_SECRET: must be set to sign development tokens"


@dataclass(frozen=True)
class ClientConfig:
    """Where the server is and how to sign a development token for it."""

    public_url: str = "http://127.0.0.1:8080"
    heartbeat_s: float = 15.0
    host: str = "127.0.0.1"
    jwt_secret: str | None = None
    jwt_jwks_url: str | None = None
    jwt_issuer: str | None = None
    jwt_audience: str | None = None
    state_dir: Path | None = None

    def sign(self, user_id: str, ttl_s: int, no_secret: str = NO_SECRET) -> str:
        """A development token with the configured secret, else the one `serve` keeps."""
        secret = self.jwt_secret
        if secret is None:
            if self.jwt_jwks_url is not None:
                raise ConfigError(no_secret)
            if not is_loopback(self.host):
                raise ConfigError(reachable_without_auth(self.host))
            secret = load_or_make_dev_secret(state_home(self.state_dir))
        return sign_dev_token(secret, user_id, ttl_s, issuer=self.jwt_issuer,
                              audience=self.jwt_audience)


def read_client_config(env_file: Path = Path(".env")) -> ClientConfig:
    """The client's settings; a wrong value is one ConfigError line naming the variable."""
    found = {**dotenv_values(env_file), **os.environ} if env_file.is_file() else dict(os.environ)

    def value(name: str) -> str | None:
        return found.get(f"VOICE_MCP_{name}") or None

    secret = value("JWT_SECRET")
    if secret is not None and len(secret.encode()) < MIN_SECRET_BYTES:
        raise ConfigError(f"VOICE_MCP_JWT_SECRET: must be at least {MIN_SECRET_BYTES} bytes"
                          " (make one: openssl rand -hex 32)")
    state = value("STATE_DIR")
    return ClientConfig(
        public_url=(value("PUBLIC_URL") or ClientConfig.public_url).rstrip("/"),
        heartbeat_s=_positive("HEARTBEAT_S", value("HEARTBEAT_S"), ClientConfig.heartbeat_s),
        host=value("HOST") or ClientConfig.host, jwt_secret=secret,
        jwt_jwks_url=value("JWT_JWKS_URL"), jwt_issuer=value("JWT_ISSUER"),
        jwt_audience=value("JWT_AUDIENCE"), state_dir=Path(state) if state else None)


def _positive(name: str, raw: str | None, default: float) -> float:
    if raw is None:
        return default
    try:
        number = float(raw)
    except ValueError:
        number = -1.0
    if not number > 0:
        raise ConfigError(f"VOICE_MCP_{name}: must be a number greater than 0")
    return number
