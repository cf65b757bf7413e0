"""Tool lists for the ranking tests: the test catalog (tests/mcp_servers/tool_catalog.py)."""

from __future__ import annotations

import pytest

from tests.mcp_servers.tool_catalog import OWN, SERVICES
from voice_mcp.services.mcp.models import ToolInfo


def tool(service: str, name: str, description: str = "", **props: str) -> ToolInfo:
    """A tool whose parameters are `props` (name -> description)."""
    schema = {"type": "object",
              "properties": {k: {"type": "string", "description": v} for k, v in props.items()}}
    return ToolInfo(service=service, name=name, description=description, input_schema=schema)


@pytest.fixture(scope="session")
def catalog() -> tuple[list[ToolInfo], dict[str, str]]:
    """Every tool of the test catalog: real definitions and our own, in four languages."""
    tools = [ToolInfo(service=sid, name=t["name"], description=t["description"],
                      input_schema=t["inputSchema"])
             for sid, (_title, defs) in SERVICES.items() for t in defs]
    return tools, {sid: title for sid, (title, _defs) in SERVICES.items()}


# The tools described in Spanish and German, as a local server in those languages would be.
LOCAL_LANGUAGE_TOOLS = [ToolInfo(service=sid, name=t["name"], description=t["description"],
                                 input_schema=t["inputSchema"])
                        for sid in ("agenda", "einkauf") for t in OWN[sid][1]]
