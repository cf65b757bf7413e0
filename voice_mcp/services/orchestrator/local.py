"""The local path: a sentence template picks the tool, the same execute stage runs it.

No LLM request is made. A match runs through the same risk gate (`hold`) and the same
`execute` as the LLM's calls; only the choice of tool and the spoken answer differ.
"""

from __future__ import annotations

import logging
import secrets

from voice_mcp.errors import LLMNotConfigured
from voice_mcp.services.intents import LocalMatch
from voice_mcp.services.mcp.models import ToolInfo
from voice_mcp.services.orchestrator.deps import Deps
from voice_mcp.services.orchestrator.dialogue import hold
from voice_mcp.services.orchestrator.events import Selecting
from voice_mcp.services.orchestrator.execution import execute, gated_call, needs_approval
from voice_mcp.services.orchestrator.intake import recall, usable_services
from voice_mcp.services.orchestrator.payload import ErrorView, Status
from voice_mcp.services.orchestrator.resume import LocalRecord
from voice_mcp.services.orchestrator.state import RunState

log = logging.getLogger(__name__)
MAX_EXAMPLES_SPOKEN = 3


async def answer_locally(deps: Deps, state: RunState) -> bool:
    """Run the command from a template when one matches and its arguments check; else False."""
    usable, _unusable = await usable_services(deps, state)
    match = deps.intents.match(state.query, usable)
    if match is None:
        return False
    tool = await _find_tool(deps, state, match)
    problem = match.problem or ("the tool is not available" if tool is None else
                                deps.mcp.validate_arguments(tool, match.arguments))
    if problem is not None or tool is None:
        state.local_problem = problem
        log.info("template matched but cannot run", extra={"service": match.service,
                                                            "intent": match.intent})
        return False
    call = gated_call(deps, f"local_{secrets.token_hex(6)}", tool, match.arguments)
    state.processed_locally = True
    state.timings.lap("plan")
    state.emit(Selecting(message=f"Chose {call.qualified_name}", tools=[call.qualified_name],
                         local=True))
    if needs_approval(deps, call):
        await recall(deps, state)  # the held conversation is frozen whole, as the LLM's is
        await hold(deps, state, [call], local=LocalRecord.of(match))
        return True
    await execute(deps, state, [call])
    finish(deps, state, match, tool)
    return True


async def _find_tool(deps: Deps, state: RunState, match: LocalMatch) -> ToolInfo | None:
    found = await deps.mcp.discover(state.command.user_id, [match.service])
    state.unavailable.update(found.unavailable)
    return next((t for t in found.tools if t.name == match.tool), None)


def finish(deps: Deps, state: RunState, match: LocalMatch, tool: ToolInfo | None) -> None:
    """Answer from the template over the tool's result (the last result of the run)."""
    result = state.results[-1]
    state.outcome.response = deps.intents.respond(match, result, tool)
    if result.success:
        state.outcome.status = Status.COMPLETED
    else:
        state.outcome.status = Status.FAILED
        state.outcome.error = ErrorView(code="tool_failed", message=state.outcome.response)


def no_llm(deps: Deps, state: RunState, services: list[str]) -> LLMNotConfigured:
    """The failure for a command no template can answer when there is no LLM to ask."""
    examples = deps.intents.examples(services)[:MAX_EXAMPLES_SPOKEN]
    reason = (f"I couldn't do that ({state.local_problem})" if state.local_problem
              else "I can't answer that without a language model, and none is configured")
    if examples:
        reason += ". Things I can do offline: " + "; ".join(f'"{e}"' for e in examples)
    return LLMNotConfigured(reason + ".")
