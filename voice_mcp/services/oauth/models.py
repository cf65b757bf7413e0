"""Records of the OAuth layer: what is stored in Redis and what the facade answers."""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict, Field

from voice_mcp.services.catalog import AuthKind


class TokenSet(BaseModel):
    """One user's grant for one service (stored encrypted, never logged)."""

    model_config = ConfigDict(frozen=True)

    access_token: str
    token_type: str = "Bearer"
    refresh_token: str | None = None
    expires_at: float | None = None  # epoch seconds; None: the server did not say
    scope: str | None = None
    # The authorization server that issued it: its tokens never go to another (SEP-2352).
    issuer: str | None = None

    def __repr__(self) -> str:  # keep tokens out of reprs, tracebacks and logs
        return f"TokenSet(expires_at={self.expires_at!r}, scope={self.scope!r})"

    __str__ = __repr__

    def expires_within(self, seconds: float, now: float) -> bool:
        """True when the access token has less than `seconds` left."""
        return self.expires_at is not None and self.expires_at - now < seconds


class ClientInfo(BaseModel):
    """The OAuth client this server uses for one service (registered or static)."""

    model_config = ConfigDict(frozen=True)

    client_id: str
    client_secret: str | None = None
    token_endpoint_auth_method: str = "none"
    redirect_uri: str
    issuer: str  # the authorization server it belongs to; a change means register again
    static: bool = False

    def __repr__(self) -> str:
        return f"ClientInfo(client_id={self.client_id!r}, static={self.static!r})"

    __str__ = __repr__


class AuthServerMetadata(BaseModel):
    """The RFC 8414 fields this client uses, plus where they were found."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    registration_endpoint: str | None = None
    revocation_endpoint: str | None = None
    scopes_supported: list[str] | None = None
    response_types_supported: list[str] = Field(default_factory=lambda: ["code"])
    grant_types_supported: list[str] | None = None
    code_challenge_methods_supported: list[str] | None = None
    token_endpoint_auth_methods_supported: list[str] | None = None
    revocation_endpoint_auth_methods_supported: list[str] | None = None
    # RFC 9207: the server puts `iss` on its authorization responses.
    authorization_response_iss_parameter_supported: bool = False
    # The server accepts a Client ID Metadata Document URL as `client_id` (no registration).
    client_id_metadata_document_supported: bool = False


class ResourceAuth(BaseModel):
    """What discovery learnt about one MCP server: its authorization server and scopes."""

    model_config = ConfigDict(frozen=True)

    mcp_url: str  # the catalog URL this was discovered for; a change means discover again
    resource: str  # sent as the RFC 8707 `resource`: the MCP URL, or its metadata's own name
    metadata: AuthServerMetadata
    scopes: list[str] = Field(default_factory=list)  # suggested by the resource server


class PendingAuthorization(BaseModel):
    """A started authorization, keyed by its state (stored encrypted: it holds the verifier)."""

    model_config = ConfigDict(frozen=True)

    user_id: str
    service_id: str
    client_id: str
    code_verifier: str
    redirect_uri: str
    resource: str
    expires_at: float
    issuer: str  # RFC 9207: the callback's `iss`, when sent, must be this
    iss_required: bool = False  # the server said it always sends `iss`
    authorization_url: str  # where the start link sends the browser
    open_by: float  # the start link works until then, once

    def __repr__(self) -> str:
        return f"PendingAuthorization(service_id={self.service_id!r})"

    __str__ = __repr__


class PendingGrant(BaseModel):
    """Tokens of a finished sign-in waiting for their user's grant request (stored encrypted)."""

    model_config = ConfigDict(frozen=True)

    user_id: str
    service_id: str
    tokens: TokenSet

    def __repr__(self) -> str:
        return f"PendingGrant(service_id={self.service_id!r})"

    __str__ = __repr__


@dataclass(frozen=True)
class ConnectionStatus:
    """Whether one user can use one service now (`GET /api/services`)."""

    auth: AuthKind
    connected: bool
    needs_reauth: bool = False


@dataclass(frozen=True)
class CallbackResult:
    """A completed authorization: which service, and the one-time grant handle for its user."""

    user_id: str
    service_id: str
    service_title: str
    grant: str = ""

    def __repr__(self) -> str:
        return f"CallbackResult(service_id={self.service_id!r})"
