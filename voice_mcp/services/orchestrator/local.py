"""The local path: a sentence template picks the tool, the same execute stage runs it.

No LLM request is made. A match runs through the same risk gate (`hold`) and the same
`execute` as the LLM's calls; only the choice of tool and the spoken answer differ.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass

from voice_mcp.errors import LLMNotConfigured
from voice_mcp.services.intents import LocalMatch
from voice_mcp.services.mcp.models import ToolInfo
from voice_mcp.services.orchestrator.deps import Deps
from voice_mcp.services.orchestrator.dialogue import hold
from voice_mcp.services.orchestrator.events import Selecting
from voice_mcp.services.orchestrator.execution import execute, gated_call, needs_approval
from voice_mcp.services.orchestrator.intake import recall
from voice_mcp.services.orchestrator.payload import ErrorView
from voice_mcp.services.orchestrator.resume import LocalRecord
from voice_mcp.services.orchestrator.run import Run

log = logging.getLogger(__name__)
MAX_EXAMPLES_SPOKEN = 3


@dataclass(frozen=True)
class LocalAttempt:
    """What trying the templates gave: an answer, or why a matching one could not run."""

    answered: bool = False
    problem: str | None = None  # a template matched but its arguments did not check


NOT_TRIED = LocalAttempt()
ANSWERED = LocalAttempt(answered=True)


async def answer_locally(deps: Deps, run: Run) -> LocalAttempt:
    """Run the command from a template when one matches and its arguments check."""
    usable, _unusable = await run.services.get()
    match = deps.intents.match(run.said.query, usable)
    if match is None:
        return NOT_TRIED
    tool = await _find_tool(deps, run, match)
    problem = match.problem or ("the tool is not available" if tool is None else
                                deps.mcp.validate_arguments(tool, match.arguments))
    if problem is not None or tool is None:
        log.info("template matched but cannot run", extra={"service": match.service,
                                                            "intent": match.intent})
        return LocalAttempt(problem=problem)
    call = gated_call(deps, f"local_{secrets.token_hex(6)}", tool, match.arguments)
    run.outcome.chosen_by_template()
    run.timings.lap("plan")
    run.emit(Selecting(message=f"Chose {call.qualified_name}", tools=[call.qualified_name],
                       local=True))
    if needs_approval(deps, call):
        await recall(deps, run)  # the held conversation is frozen whole, as the LLM's is
        await hold(deps, run, [call], local=LocalRecord.of(match))
        return ANSWERED
    await execute(deps, run, [call])
    finish(deps, run, match, tool)
    return ANSWERED


async def _find_tool(deps: Deps, run: Run, match: LocalMatch) -> ToolInfo | None:
    found = await deps.mcp.discover(run.command.user_id, [match.service])
    run.outcome.missing(found.unavailable)
    return next((t for t in found.tools if t.name == match.tool), None)


def finish(deps: Deps, run: Run, match: LocalMatch, tool: ToolInfo | None) -> None:
    """Answer from the template over the tool's result (the last result of the run)."""
    result = run.outcome.results[-1]
    response = deps.intents.respond(match, result, tool)
    if result.success:
        run.outcome.complete(response)
    else:
        run.outcome.fail(response, ErrorView(code="tool_failed", message=response))


async def no_llm(deps: Deps, run: Run, attempt: LocalAttempt) -> LLMNotConfigured:
    """The failure for a command no template can answer when there is no LLM to ask."""
    usable, _unusable = await run.services.get()
    examples = deps.intents.examples(usable)[:MAX_EXAMPLES_SPOKEN]
    reason = (f"I couldn't do that ({attempt.problem})" if attempt.problem
              else "I can't answer that without a language model, and none is configured")
    if examples:
        reason += ". Things I can do offline: " + "; ".join(f'"{e}"' for e in examples)
    return LLMNotConfigured(reason + ".")
