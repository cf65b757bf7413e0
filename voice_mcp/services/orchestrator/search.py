"""The built-in `search_tools`: answered here, never sent to an MCP server, never risk-gated."""

from __future__ import annotations

from voice_mcp.services.llm.models import ToolCallRequest
from voice_mcp.services.llm.models import tool_result_message as tool_message
from voice_mcp.services.llm.prompts import ASK_USER_TOOL
from voice_mcp.services.orchestrator.deps import Deps
from voice_mcp.services.orchestrator.state import RunState
from voice_mcp.services.tool_index.offer import (
    SEARCH_TOOLS,
    SEARCH_TOOLS_TOOL,
    search_query,
    search_result,
)

BAD_QUERY = "Error: search_tools needs a non-empty 'query' string."


def split_searches(calls: list[ToolCallRequest]
                   ) -> tuple[list[ToolCallRequest], list[ToolCallRequest]]:
    """`(search_tools calls, the other calls)`."""
    searches = [c for c in calls if c.name == SEARCH_TOOLS]
    return searches, [c for c in calls if c.name != SEARCH_TOOLS]


async def answer_searches(deps: Deps, state: RunState, calls: list[ToolCallRequest]) -> None:
    """Answer each search with the tools found, and offer those tools from the next round on."""
    for call in calls:
        query = search_query(call.arguments) if not call.parse_error else None
        if query is None:
            state.messages.append(tool_message(call.id, BAD_QUERY))
            continue
        offered = {(t.service, t.name) for t in state.offered}
        found = await deps.offering.search(state.discovered, query, exclude=offered)
        state.offered.extend(found)
        state.openai_tools = [*state.tool_set.functions(state.offered), SEARCH_TOOLS_TOOL,
                              ASK_USER_TOOL]
        named = [(name, tool) for tool in found
                 if (name := state.tool_set.name_of(tool.service, tool.name)) is not None]
        state.messages.append(tool_message(call.id, search_result(named)))
    state.timings.lap("discover")  # the time since the round's "plan" lap
