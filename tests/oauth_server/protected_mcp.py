"""An OAuth-protected MCP server (mcp SDK, streamable HTTP) that knows whose token it got.

The SDK's resource-server support does the protocol: 401 with
`WWW-Authenticate: Bearer resource_metadata="..."` without a valid token, and RFC 9728
metadata at `/.well-known/oauth-protected-resource/mcp`. Tokens are checked against the
test authorization server's storage, including their RFC 8707 resource.
"""

from __future__ import annotations

from mcp.server.auth.provider import AccessToken
from mcp.server.auth.settings import AuthSettings
from mcp.server.mcpserver import Context, MCPServer
from mcp_types import ToolAnnotations
from starlette.applications import Starlette

from tests.oauth_server.authorization_server import TestAuthorizationServer

REQUIRED_SCOPES = ["notes.read"]


class StorageTokenVerifier:
    """Introspection without a network hop: look the token up in the server's storage."""

    def __init__(self, auth_server: TestAuthorizationServer) -> None:
        self._auth_server = auth_server

    async def verify_token(self, token: str) -> AccessToken | None:
        record = self._auth_server.storage.by_access(token)
        if record is None or not record.access_usable:
            return None
        return AccessToken(token=token, client_id=record.client_id,
                           scopes=record.scope.split(), expires_at=record.expires_at,
                           resource=record.resource, subject=record.user)


def _caller(ctx: Context) -> str:
    """The user of the bearer token on this very request."""
    request = ctx.request_context.request
    user = getattr(request, "user", None)
    subject = getattr(getattr(user, "access_token", None), "subject", None)
    if not isinstance(subject, str):
        raise ValueError("no authenticated user")
    return subject


def build_protected_mcp(auth_server: TestAuthorizationServer, mcp_url: str,
                        notes: dict[str, list[str]]) -> Starlette:
    """The Starlette app; serve it so that `mcp_url` (ending in /mcp) reaches it."""
    server = MCPServer(
        name="notes",
        auth=AuthSettings(issuer_url=auth_server.issuer, resource_server_url=mcp_url,
                          validate_token_resource=True, required_scopes=REQUIRED_SCOPES),
        token_verifier=StorageTokenVerifier(auth_server),
    )

    @server.tool(annotations=ToolAnnotations(read_only_hint=True))
    def whoami(ctx: Context) -> str:
        """Tell which user the access token belongs to."""
        return _caller(ctx)

    @server.tool(annotations=ToolAnnotations(read_only_hint=True))
    def list_notes(ctx: Context) -> list[str]:
        """List the caller's notes."""
        return list(notes.get(_caller(ctx), []))

    @server.tool(annotations=ToolAnnotations(read_only_hint=False, destructive_hint=False))
    def add_note(text: str, ctx: Context) -> str:
        """Add a note for the caller."""
        notes.setdefault(_caller(ctx), []).append(text)
        return f"added note {len(notes[_caller(ctx)])}"

    return server.streamable_http_app(host="127.0.0.1")
