"""OAuth-connected services: per-user grants for MCP servers behind OAuth 2.1."""

from voice_mcp.services.oauth.errors import CallbackError
from voice_mcp.services.oauth.flow import BrowserCookie, StartRedirect
from voice_mcp.services.oauth.models import CallbackResult, ConnectionStatus
from voice_mcp.services.oauth.service import (
    CALLBACK_PATH,
    START_PATH,
    ConnectionHook,
    OAuthService,
)

__all__ = [
    "CALLBACK_PATH",
    "START_PATH",
    "BrowserCookie",
    "CallbackError",
    "CallbackResult",
    "ConnectionHook",
    "ConnectionStatus",
    "OAuthService",
    "StartRedirect",
]
