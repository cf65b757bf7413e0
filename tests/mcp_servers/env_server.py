"""A stdio MCP server for tests whose one tool reports the environment it was started with.

Run it with `python -m tests.mcp_servers.env_server` (from the repository root).
"""

from __future__ import annotations

import json
import os

import anyio
from mcp.server.mcpserver import MCPServer
from mcp.types import ToolAnnotations


def build_server() -> MCPServer:
    server = MCPServer("env")

    @server.tool(description="Return the names and values of this process's environment.",
                 annotations=ToolAnnotations(read_only_hint=True, open_world_hint=False))
    def environment() -> str:
        return json.dumps(dict(os.environ), sort_keys=True)

    return server


if __name__ == "__main__":
    anyio.run(build_server().run_stdio_async)
