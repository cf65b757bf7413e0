"""The built-in `search_tools`: answered here, never sent to an MCP server, never risk-gated."""

from __future__ import annotations

from voice_mcp.services.llm.models import ToolCallRequest
from voice_mcp.services.orchestrator.deps import Deps
from voice_mcp.services.orchestrator.run import Run
from voice_mcp.services.tool_index.offer import SEARCH_TOOLS, search_query, search_result

BAD_QUERY = "Error: search_tools needs a non-empty 'query' string."


def split_searches(calls: list[ToolCallRequest]
                   ) -> tuple[list[ToolCallRequest], list[ToolCallRequest]]:
    """`(search_tools calls, the other calls)`."""
    searches = [c for c in calls if c.name == SEARCH_TOOLS]
    return searches, [c for c in calls if c.name != SEARCH_TOOLS]


async def answer_searches(deps: Deps, run: Run, calls: list[ToolCallRequest]) -> None:
    """Answer each search with the tools found, and offer those tools from the next round on."""
    tools, conversation = run.tools, run.conversation
    for call in calls:
        query = search_query(call.arguments) if not call.parse_error else None
        if query is None:
            conversation.tool_result(call.id, BAD_QUERY)
            continue
        found = await deps.offering.search(tools.discovered, query, exclude=tools.offered_keys())
        conversation.tool_result(call.id, search_result(tools.add(found)))
    run.timings.lap("discover")  # the time since the round's "plan" lap
