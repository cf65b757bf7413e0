"""The service catalog: `config/services.toml` parsed and validated.

See docs/api.md, "Service catalog".
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from voice_mcp.settings import ConfigError

RiskLevel = Literal["low", "medium", "high"]
Transport = Literal["stdio", "streamable-http", "sse"]
AuthKind = Literal["none", "oauth", "bearer"]
SERVICE_ID = re.compile(r"^[a-z0-9_-]+$")


class ServiceConfig(BaseModel):
    """One MCP service a user can use."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    title: str
    transport: Transport
    command: list[str] | None = None
    env: dict[str, str] = Field(default_factory=dict)
    cwd: str | None = None
    url: str | None = None
    headers: dict[str, str] = Field(default_factory=dict)
    auth: AuthKind = "none"
    token_env: str | None = None
    scopes: list[str] = Field(default_factory=list)
    client_id_env: str | None = None
    client_secret_env: str | None = None
    issuer: str | None = None  # the authorization server pinned for a static client's secret
    risk: dict[str, RiskLevel] = Field(default_factory=dict)
    examples: list[str] = Field(default_factory=list)
    timeout_s: float | None = Field(None, gt=0)
    sampling: bool = False  # answer the server's sampling requests with the LLM

    @model_validator(mode="after")
    def _check_shape(self) -> ServiceConfig:
        if self.transport == "stdio":
            if not self.command:
                raise ValueError("command: required for transport 'stdio'")
            if self.auth != "none":
                raise ValueError("auth: stdio services take no auth")
        elif not self.url:
            raise ValueError(f"url: required for transport '{self.transport}'")
        elif not self.url.startswith(("http://", "https://")):
            raise ValueError("url: must start with http:// or https://")
        if self.auth == "bearer" and not self.token_env:
            raise ValueError("token_env: required when auth = 'bearer'")
        self._check_issuer()
        return self

    def _check_issuer(self) -> None:
        """A client secret only ever goes to the authorization server the operator named."""
        if self.client_secret_env and not self.issuer:
            raise ValueError("issuer: required with client_secret_env (the authorization"
                             " server the secret may be sent to, e.g. issuer ="
                             " \"https://auth.example.com\")")
        if self.issuer is not None:
            if self.auth != "oauth":
                raise ValueError("issuer: only for auth = 'oauth'")
            if not self.issuer.startswith(("http://", "https://")):
                raise ValueError("issuer: must start with http:// or https://")

    @property
    def is_shared(self) -> bool:
        """True when one session can serve every user (no per-user credentials)."""
        return self.auth != "oauth"


class Catalog(BaseModel):
    """All configured services, keyed by id, in file order."""

    model_config = ConfigDict(frozen=True)

    services: dict[str, ServiceConfig] = Field(default_factory=dict)

    def get(self, service_id: str) -> ServiceConfig | None:
        return self.services.get(service_id)

    @property
    def needs_token_key(self) -> bool:
        return any(s.auth == "oauth" for s in self.services.values())


def _field_path(loc: tuple[int | str, ...]) -> str:
    return ".".join(str(p) for p in loc) or "(service)"


def parse_catalog(data: dict[str, object], source: str) -> Catalog:
    """Validate raw catalog data; errors name the file, the service and the field."""
    raw_services = data.get("services", {})
    if not isinstance(raw_services, dict):
        raise ConfigError(f"{source}: 'services' must be a table of [services.<id>] tables")
    services: dict[str, ServiceConfig] = {}
    for service_id, body in raw_services.items():
        where = f"{source}: service '{service_id}'"
        if not SERVICE_ID.match(service_id):
            raise ConfigError(f"{where}: field 'id': must match [a-z0-9_-]+")
        if not isinstance(body, dict):
            raise ConfigError(f"{where}: must be a table")
        try:
            services[service_id] = ServiceConfig(id=service_id, **body)
        except ValidationError as err:
            first = err.errors()[0]
            msg = first["msg"].removeprefix("Value error, ")
            if first["loc"]:
                raise ConfigError(
                    f"{where}: field '{_field_path(first['loc'])}': {msg}"
                ) from None
            field, _, detail = msg.partition(": ")
            raise ConfigError(f"{where}: field '{field}': {detail or msg}") from None
    return Catalog(services=services)


def load_catalog(path: Path, *, token_keys: list[str]) -> Catalog:
    """Read and validate the catalog file; OAuth services demand a token key."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: catalog file not found (set VOICE_MCP_SERVICES_FILE)") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"{path}: not valid TOML: {err}") from None
    catalog = parse_catalog(data, str(path))
    if catalog.needs_token_key and not token_keys:
        oauth = next(s.id for s in catalog.services.values() if s.auth == "oauth")
        raise ConfigError(
            f"{path}: service '{oauth}': field 'auth': oauth needs VOICE_MCP_TOKEN_KEY; make one"
            " with: python -c \"from cryptography.fernet import Fernet;"
            " print(Fernet.generate_key().decode())\""
        )
    return catalog
