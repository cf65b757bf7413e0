"""Which tools one LLM request is offered, and the built-in `search_tools` tool."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Final

from voice_mcp.services.mcp.models import ToolInfo

# No `__` in it, so it can never be a `<service>__<tool>` function name (docs/api.md, Tools).
SEARCH_TOOLS: Final = "search_tools"
EXTRA_ROOM: Final = 2  # slots of the budget kept for search_tools and ask_user
SEARCH_RESULTS: Final = 8  # tools one search adds to the next round
MAX_SEARCH_QUERY_CHARS: Final = 300
_SHOWN_DESCRIPTION_CHARS: Final = 200

SEARCH_TOOLS_TOOL: Final[dict[str, Any]] = {
    "type": "function",
    "function": {
        "name": SEARCH_TOOLS,
        "description": (
            "Only some of the user's tools are offered now. When none of them fits the "
            "request, search the others by what they do, in a few keywords in the language "
            "of the tools' descriptions (usually English); the tools found can be called in "
            "your next step."
        ),
        "parameters": {
            "type": "object",
            "properties": {
                "query": {"type": "string",
                          "description": "What the tool should do, e.g. 'star github repository'."},
            },
            "required": ["query"],
        },
    },
}


@dataclass(frozen=True)
class Offer:
    """The tools offered to the LLM; `limited` when the budget left some out."""

    tools: tuple[ToolInfo, ...]
    limited: bool


def choose_offer(tools: Sequence[ToolInfo], ranked: Sequence[int], budget: int,
                 pinned: Iterable[ToolInfo] = ()) -> Offer:
    """All tools within the budget; past it the pinned ones, then the best-ranked ones."""
    if len(tools) <= budget:
        return Offer(tuple(tools), limited=False)
    room = max(budget - EXTRA_ROOM, 1)
    chosen: dict[tuple[str, str], ToolInfo] = {}
    for tool in pinned:
        if len(chosen) >= room:
            break
        chosen.setdefault((tool.service, tool.name), tool)
    for position in ranked:
        if len(chosen) >= room:
            break
        tool = tools[position]
        chosen.setdefault((tool.service, tool.name), tool)
    return Offer(tuple(chosen.values()), limited=True)


def search_query(arguments: Any) -> str | None:
    """The query of a search_tools call, or None when the LLM sent something unusable."""
    if not isinstance(arguments, dict):
        return None
    query = arguments.get("query")
    if not isinstance(query, str) or not query.strip():
        return None
    return query.strip()[:MAX_SEARCH_QUERY_CHARS]


def search_result(found: Sequence[tuple[str, ToolInfo]]) -> str:
    """What the LLM reads back from search_tools: function names and short descriptions."""
    if not found:
        return json.dumps({"tools": [], "note": "No tool matches; try other words."})
    listed = [{"name": name, "description": (tool.description or tool.title or tool.name)
               [:_SHOWN_DESCRIPTION_CHARS]} for name, tool in found]
    return json.dumps({"tools": listed, "note": "These tools can be called in your next step."},
                      ensure_ascii=False)
