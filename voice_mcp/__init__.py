"""voice-mcp: spoken or typed commands turned into MCP tool calls across connected services."""

__version__ = "0.1.0"
