"""A real OAuth 2.1 authorization server and an OAuth-protected MCP server, for tests."""

from tests.oauth_server.authorization_server import TestAuthorizationServer
from tests.oauth_server.environment import OAuthServers, run_oauth_servers

__all__ = ["OAuthServers", "TestAuthorizationServer", "run_oauth_servers"]
