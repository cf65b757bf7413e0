"""A stdio MCP server for tests whose tools report the environment and directory it started in.

Run it with `python -m tests.mcp_servers.env_server` (from the repository root), or by its
path from anywhere (it imports nothing from the repository).
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

    @server.tool(description="Return the directory this process started in and its files.",
                 annotations=ToolAnnotations(read_only_hint=True, open_world_hint=False))
    def workdir() -> str:
        return json.dumps({"cwd": os.getcwd(), "files": sorted(os.listdir("."))})

    return server


if __name__ == "__main__":
    anyio.run(build_server().run_stdio_async)
