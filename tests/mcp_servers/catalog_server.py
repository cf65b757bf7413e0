"""An MCP server (stdio) that serves tool definitions of tests/mcp_servers/tool_catalog.py.

    python -m tests.mcp_servers.catalog_server --services weather,chess,trains

Each tool keeps its name, description and inputSchema; calling one answers
"<service>.<tool> ran". Tool names must be unique across the chosen services.
"""

from __future__ import annotations

import argparse
from typing import Any

import anyio
from mcp.server.mcpserver import MCPServer
from mcp.types import ToolAnnotations

from tests.mcp_servers.tool_catalog import SERVICES


def catalog_tools(service_ids: list[str]) -> list[tuple[str, dict[str, Any]]]:
    """`(service id, tool definition)` for every tool of the given catalog services."""
    return [(sid, tool) for sid in service_ids for tool in SERVICES[sid][1]]


def _answer(qualified: str) -> Any:
    def ran() -> str:
        return f"{qualified} ran"

    return ran


def build_server(service_ids: list[str]) -> MCPServer:
    server = MCPServer("catalog", log_level="WARNING")
    for service_id, definition in catalog_tools(service_ids):
        server.add_tool(_answer(f"{service_id}.{definition['name']}"), name=definition["name"],
                        description=definition["description"],
                        annotations=ToolAnnotations(read_only_hint=True))
        # The catalog's schema, as a real server would advertise it; arguments are not used.
        registered = server._tool_manager.get_tool(definition["name"])
        assert registered is not None
        registered.parameters = {k: v for k, v in definition["inputSchema"].items()
                                 if k != "$schema"}
    return server


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--services", required=True, help="comma-separated catalog service ids")
    args = parser.parse_args()
    anyio.run(build_server(args.services.split(",")).run_stdio_async)


if __name__ == "__main__":
    main()
