"""Settings read from the environment and `.env` (docs/api.md, "Settings")."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import (
    AliasChoices,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict

from voice_mcp import defaults
from voice_mcp.config_error import ConfigError as ConfigError
from voice_mcp.dev_auth import MIN_SECRET_BYTES as MIN_JWT_SECRET_BYTES

RiskThreshold = Literal["medium", "high"]
LocalIntentsMode = Literal["prefer", "fallback", "off"]
SttMode = Literal["auto", "openai", "local", "off"]


class Settings(BaseSettings):
    """Every setting of the server; field `x` is read from `VOICE_MCP_X`."""

    model_config = SettingsConfigDict(
        env_prefix="VOICE_MCP_",
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        frozen=True,
        # `OPENAI_API_KEY=` (as config/.env.example ships it) means unset, for every setting.
        env_ignore_empty=True,
    )

    host: str = "127.0.0.1"
    port: int = Field(8080, ge=0, le=65535)
    public_url: str = "http://127.0.0.1:8080"
    redis_url: str | None = None
    redis_cluster: bool = False

    jwt_secret: SecretStr | None = None
    jwt_jwks_url: str | None = None
    jwt_issuer: str | None = None
    jwt_audience: str | None = None

    openai_api_key: SecretStr | None = Field(
        None, validation_alias=AliasChoices("OPENAI_API_KEY", "VOICE_MCP_OPENAI_API_KEY")
    )
    llm_base_url: str | None = None
    llm_model: str = "gpt-5-mini"
    llm_timeout_s: float = Field(30.0, gt=0)
    llm_max_retries: int = Field(2, ge=0, le=10)
    llm_max_rounds: int = Field(5, ge=1, le=20)
    llm_stream: bool = False

    stt_base_url: str | None = None
    stt_model: str = "whisper-1"
    stt_timeout_s: float = Field(30.0, gt=0)
    stt: SttMode = "auto"
    # The listen socket streams to a Realtime transcription session (docs/streaming.md).
    stt_realtime: Literal["auto", "on", "off"] = "auto"
    # Offline speech: decoders loaded at most (about 30 MiB each), recordings in work per user.
    stt_decoders: int = Field(2, ge=1, le=16)
    stt_recordings_per_user: int = Field(2, ge=1, le=16)
    vad_silence_ms: int = Field(500, ge=100, le=5000)  # the listen socket's end of speech

    local_intents: LocalIntentsMode = "prefer"
    intents_dir: Path | None = None  # unset: `intents/` beside the services file

    tts: Literal["auto", "openai", "local", "off"] = "auto"
    tts_base_url: str | None = None
    tts_model: str = "tts-1"
    tts_voice: str = "alloy"
    tts_max_chars: int = Field(1000, ge=1)
    tts_timeout_s: float = Field(30.0, gt=0)

    services_file: Path = Path("config/services.toml")
    state_dir: Path | None = None  # default: $XDG_STATE_HOME/voice-mcp (the dev secret)
    token_key: SecretStr | None = None

    max_query_chars: int = Field(500, ge=1)
    request_timeout_s: float = Field(60.0, gt=0)
    heartbeat_s: float = Field(15.0, gt=0)
    confirm_risk: RiskThreshold = "high"
    confirmation_ttl_s: int = Field(300, ge=1)
    input_timeout_s: float = Field(120.0, gt=0)  # how long a service's question waits
    max_audio_bytes: int = Field(26_214_400, ge=1)
    oauth_return_url: str | None = None

    metrics_token: SecretStr | None = None  # unset: /metrics for loopback clients only
    resume_grace_s: float = Field(30.0, ge=0)
    events_ttl_s: int = Field(600, ge=1)

    rate_limit_per_minute: int = Field(60, ge=0)
    tool_timeout_s: float = Field(30.0, gt=0)
    discovery_timeout_s: float = Field(10.0, gt=0)
    tools_cache_ttl_s: int = Field(3600, ge=1)
    tool_budget: int = Field(48, ge=4, le=128)  # docs/discovery.md: the multi-step tasks
    embedding_model: str | None = None
    workers: int = Field(1, ge=1, le=64)
    drain_s: float = Field(30.0, ge=0)
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_format: Literal["auto", "json", "text"] = "auto"
    # Traces (OTEL_* variables, docs/operations.md): queries, transcripts, tool arguments and
    # output go into span attributes only when this is true.
    trace_content: bool = False

    @field_validator("embedding_model")
    @classmethod
    def _empty_is_unset(cls, value: str | None) -> str | None:
        return value.strip() or None if value is not None else None

    @field_validator("public_url", "llm_base_url", "stt_base_url", "tts_base_url", "jwt_jwks_url")
    @classmethod
    def _strip_trailing_slash(cls, value: str | None) -> str | None:
        return value.rstrip("/") if value else value

    @model_validator(mode="after")
    def _safe_client_auth(self) -> Settings:
        # A short HMAC key can be brute-forced offline from one token; a JWKS without issuer
        # and audience accepts any token the identity provider ever signed for anyone.
        if self.jwt_secret is not None and \
                len(self.jwt_secret.get_secret_value().encode()) < MIN_JWT_SECRET_BYTES:
            raise ValueError(f"VOICE_MCP_JWT_SECRET: must be at least {MIN_JWT_SECRET_BYTES}"
                             " bytes (make one: openssl rand -hex 32)")
        if self.jwt_jwks_url and not (self.jwt_issuer and self.jwt_audience):
            raise ValueError("VOICE_MCP_JWT_JWKS_URL: needs both VOICE_MCP_JWT_ISSUER and"
                             " VOICE_MCP_JWT_AUDIENCE")
        return self

    @model_validator(mode="after")
    def _cluster_needs_a_node(self) -> Settings:
        # The embedded Redis is one plain server: it cannot stand in for a cluster.
        if self.redis_cluster and not self.redis_url:
            raise ValueError("VOICE_MCP_REDIS_CLUSTER: needs VOICE_MCP_REDIS_URL naming a node"
                             " of the cluster")
        return self

    @property
    def client_auth_configured(self) -> bool:
        """True when client bearer tokens can be verified (a secret or a JWKS)."""
        return self.jwt_secret is not None or self.jwt_jwks_url is not None

    @property
    def llm_configured(self) -> bool:
        """True when an LLM key or a self-hosted base URL is set."""
        return self.openai_api_key is not None or self.llm_base_url is not None

    @property
    def catalog_file(self) -> Path:
        """The catalog in force: the configured one, else `config/services.toml` when it
        exists, else the default catalog that ships in the package."""
        if "services_file" in self.model_fields_set or self.services_file.exists():
            return self.services_file
        return defaults.CATALOG

    @property
    def intents_directory(self) -> Path:
        """Where `<service>.yaml` sentence templates are read from."""
        return self.intents_dir or self.catalog_file.parent / "intents"

    @property
    def token_keys(self) -> list[str]:
        """The token encryption keys, newest first (comma-separated for rotation)."""
        if self.token_key is None:
            return []
        return [k.strip() for k in self.token_key.get_secret_value().split(",") if k.strip()]


def _env_name(field: str) -> str:
    if field == "openai_api_key":
        return "OPENAI_API_KEY"
    return f"VOICE_MCP_{field.upper()}"


def load_settings(**overrides: object) -> Settings:
    """Read settings, turning a validation failure into one line naming the variable."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as err:
        first = err.errors()[0]
        if not first["loc"]:  # a check across fields: its message names the variables
            raise ConfigError(str(first["msg"]).removeprefix("Value error, ")) from None
        field = str(first["loc"][0]) if first["loc"] else "settings"
        raise ConfigError(f"{_env_name(field)}: {first['msg']}") from None
