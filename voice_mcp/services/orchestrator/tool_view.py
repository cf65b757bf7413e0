"""The tool view of one run: what the user can call, and what the LLM is offered.

One object owns the offered tools, so the function list the LLM reads is built in one
place: at discovery, and again when `search_tools` adds tools for the next round.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from voice_mcp.services.llm.prompts import ASK_USER_TOOL
from voice_mcp.services.llm.tool_names import ToolSet, tool_set_for
from voice_mcp.services.mcp.models import ToolInfo
from voice_mcp.services.tool_index import SEARCH_TOOLS_TOOL, Offer


class ToolView:
    """Every discovered tool by its function name, the offered subset, and their functions."""

    def __init__(self, found: Sequence[ToolInfo] = (), offer: Offer | None = None) -> None:
        self.discovered = list(found)  # every usable tool, as listed: what a search looks in
        self._names: ToolSet = tool_set_for(found) if found else ToolSet(())
        self.offered: list[ToolInfo] = list(offer.tools) if offer is not None else []
        self._searchable = offer is not None and offer.limited  # search_tools is offered
        self.functions = self._functions()

    def _functions(self) -> list[dict[str, Any]]:
        """What the LLM is offered: the tools, `search_tools` when the budget left some out."""
        search = [SEARCH_TOOLS_TOOL] if self._searchable else []
        return [*self._names.functions(self.offered), *search, ASK_USER_TOOL]

    def offered_keys(self) -> set[tuple[str, str]]:
        return {(t.service, t.name) for t in self.offered}

    def add(self, found: Sequence[ToolInfo]) -> list[tuple[str, ToolInfo]]:
        """Offer tools a search found from the next round on; their function names, in order."""
        self.offered.extend(found)
        self._searchable = True
        self.functions = self._functions()
        return [(name, tool) for tool in found
                if (name := self._names.name_of(tool.service, tool.name)) is not None]

    def lookup(self, name: str) -> ToolInfo | None:
        """The tool behind a function name the LLM called, or None when it made one up."""
        return self._names.lookup(name)

    def find(self, service: str, tool: str) -> ToolInfo | None:
        """A discovered tool by service and name, or None when it is not there now."""
        return self._names.find(service, tool)
