"""The MCP client layer: sessions to the catalog's services, tool discovery and tool calls."""

from voice_mcp.services.mcp.auth import TokenProvider
from voice_mcp.services.mcp.manager import McpManager
from voice_mcp.services.mcp.models import DiscoveryResult, ToolCallResult, ToolHints, ToolInfo

__all__ = ["DiscoveryResult", "McpManager", "TokenProvider", "ToolCallResult", "ToolHints",
           "ToolInfo"]
