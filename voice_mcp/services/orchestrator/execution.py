"""The execute stage: resolve tool calls once, hold the risky ones, run the rest at once.

`execute` is the one way tools run, for the LLM's calls and for approved actions alike.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from typing import Any

from voice_mcp.errors import AppError
from voice_mcp.services.asking.asker import CallAsker
from voice_mcp.services.asking.question import Question
from voice_mcp.services.asking.scope import current_scope
from voice_mcp.services.confirmations import PendingAction
from voice_mcp.services.llm.models import ToolCallRequest
from voice_mcp.services.mcp.models import ToolCallResult, ToolInfo
from voice_mcp.services.orchestrator.deps import Deps
from voice_mcp.services.orchestrator.events import (
    Executed,
    Executing,
    InputRequired,
    ToolProgress,
)
from voice_mcp.services.orchestrator.run import Run
from voice_mcp.services.risk import RiskAssessment, assess, needs_confirmation

MAX_TOOL_OUTPUT_CHARS = 8000


@dataclass(frozen=True)
class PlannedCall:
    """A tool call to run, with its arguments.

    `tool` is the resolved, validated tool; None only for an approved action whose tool
    is not in this run's tool set, which the MCP layer then resolves by name, once.
    """

    call_id: str
    service: str
    name: str
    arguments: dict[str, Any]
    tool: ToolInfo | None = None
    risk: RiskAssessment | None = None

    @property
    def qualified_name(self) -> str:
        return f"{self.service}.{self.name}"

    @classmethod
    def of(cls, call_id: str, tool: ToolInfo, arguments: dict[str, Any],
           risk: RiskAssessment) -> PlannedCall:
        return cls(call_id, tool.service, tool.name, arguments, tool, risk)


@dataclass
class Plan:
    """One round's calls split by what happens to them."""

    runnable: list[PlannedCall]
    held: list[PlannedCall]


def result_text(result: ToolCallResult) -> str:
    """What the LLM reads of a result: the output, or the error, cut to a sane size."""
    text = result.output if result.success else f"Error: {result.error or 'the tool failed'}"
    if len(text) > MAX_TOOL_OUTPUT_CHARS:
        text = text[:MAX_TOOL_OUTPUT_CHARS] + "\n[output truncated]"
    return text


def plan_calls(deps: Deps, run: Run, calls: list[ToolCallRequest]) -> Plan:
    """Resolve and validate each call once; bad ones go straight back to the LLM as errors."""
    plan = Plan(runnable=[], held=[])
    for call in calls:
        tool = run.tools.lookup(call.name)
        problem = None
        if tool is None:
            problem = f"unknown tool '{call.name}'"
        elif call.parse_error:
            problem = f"arguments are not valid JSON: {call.parse_error}"
        else:
            problem = deps.mcp.validate_arguments(tool, call.arguments)
        if problem is not None or tool is None:
            run.conversation.tool_result(call.id, f"Error: {problem}")
            continue
        planned = gated_call(deps, call.id, tool, call.arguments)
        if needs_approval(deps, planned):
            plan.held.append(planned)
        else:
            plan.runnable.append(planned)
    return plan


def gated_call(deps: Deps, call_id: str, tool: ToolInfo,
               arguments: dict[str, Any]) -> PlannedCall:
    """A resolved call with its risk: the catalog's overrides, else the tool's own evidence."""
    service = deps.catalog.get(tool.service)
    return PlannedCall.of(call_id, tool, arguments, assess(tool, service.risk if service else {}))


def needs_approval(deps: Deps, call: PlannedCall) -> bool:
    """Whether the call is held for the user (an approved action carries no risk: it runs)."""
    return call.risk is not None and needs_confirmation(call.risk.level,
                                                        deps.settings.confirm_risk)


def resolve_actions(deps: Deps, run: Run, actions: list[PendingAction]) -> list[PlannedCall]:
    """Approved actions, exactly as frozen, resolved against this run's tool set."""
    planned = []
    for action in actions:
        arguments = dict(action.arguments)
        tool = run.tools.find(action.service, action.tool)
        if tool is not None and deps.mcp.validate_arguments(tool, arguments) is not None:
            tool = None  # let the MCP layer re-list it and report the problem
        planned.append(PlannedCall(action.call_id, action.service, action.tool, arguments, tool))
    return planned


async def execute(deps: Deps, run: Run, calls: list[PlannedCall]) -> None:
    """Run calls concurrently, each announced and reported, results fed to the conversation."""
    total = len(calls)
    results = await asyncio.gather(*(_run_one(deps, run, call, i, total)
                                     for i, call in enumerate(calls, start=1)))
    for call, result in zip(calls, results, strict=True):
        _record_result(deps, run, result)
        run.conversation.tool_result(call.call_id, result_text(result))
    run.timings.lap("execute")


async def _run_one(deps: Deps, run: Run, call: PlannedCall, index: int,
                   total: int) -> ToolCallResult:
    service, name = call.service, call.name
    run.emit(Executing(message=f"Running {call.qualified_name}", service=service, tool=name,
                         index=index, total=total))

    async def on_progress(progress: float, of: float | None, message: str | None) -> None:
        run.emit(ToolProgress(message=message or f"{call.qualified_name} working",
                              service=service, tool=name, progress=progress, total=of))

    user_id = run.command.user_id
    asker = _asker(deps, run, service, name)
    # Without an asker the server's questions are declined (and fakes need no new argument).
    asking: dict[str, Any] = {"asker": asker} if asker is not None else {}
    try:
        if call.tool is not None:
            result = await deps.mcp.call(user_id, call.tool, call.arguments,
                                         progress=on_progress, **asking)
        else:
            result = await deps.mcp.call_tool(user_id, service, name, call.arguments,
                                              progress=on_progress, **asking)
    except AppError as err:
        # e.g. reauth_required: this service is out, the others still run.
        run.outcome.missing({service: err.code})
        result = ToolCallResult(service=service, tool=name, arguments=call.arguments,
                                success=False, error=f"{err.code}: {err.message}")
    deps.metrics.tool_calls.labels(service, str(result.success).lower()).inc()
    run.emit(Executed(message=f"{call.qualified_name} {'done' if result.success else 'failed'}",
                      service=service, tool=name, success=result.success,
                      duration_ms=result.duration_ms))
    return result


def _asker(deps: Deps, run: Run, service: str, tool: str) -> CallAsker | None:
    """How this call's server reaches the user: `input_required` events naming the service.

    None (the server's questions declined) outside a registered command or without a broker.
    """
    scope = current_scope()
    if deps.asking is None or scope is None:
        return None
    config = deps.catalog.get(service)

    def show(question: Question) -> None:
        run.emit(InputRequired.model_validate(question.wire()))

    def tell(text: str) -> None:
        run.emit(ToolProgress(message=text, service=service, tool=tool, progress=0))

    sampler = deps.asking.sampler if config is not None and config.sampling else None
    return CallAsker(deps.asking, scope, service=service, tool=tool, show=show, tell=tell,
                     title=config.title if config else service,
                     user_id=run.command.user_id, sampler=sampler)


def _record_result(deps: Deps, run: Run, result: ToolCallResult) -> None:
    """Keep a tool call's result, and its duration as `toolN` in the timings."""
    number = run.outcome.add_result(result)
    run.timings.detail(f"tool{number}", result.duration_ms / 1000)
    deps.metrics.tool_latency.labels(result.service).observe(result.duration_ms / 1000)


def frozen_actions(calls: list[PlannedCall]) -> list[PendingAction]:
    """The held calls as they will be stored and shown, exactly what an approval will run."""
    actions = []
    for c in calls:
        assert c.risk is not None  # only planned (resolved, assessed) calls are held
        actions.append(PendingAction(service=c.service, tool=c.name,
                                     arguments=json.loads(json.dumps(c.arguments)),
                                     risk=c.risk.level, reason=c.risk.reason, call_id=c.call_id))
    return actions
