"""The select stage: ask the LLM, run what it picks, feed results back, until it answers."""

from __future__ import annotations

from voice_mcp.services.llm.client import RoundListener
from voice_mcp.services.llm.models import AssistantTurn
from voice_mcp.services.llm.prompts import ASK_USER
from voice_mcp.services.orchestrator.deps import Deps
from voice_mcp.services.orchestrator.events import ConfirmationRequired, Selecting, Summarizing
from voice_mcp.services.orchestrator.execution import (
    PlannedCall,
    execute,
    frozen_actions,
    plan_calls,
)
from voice_mcp.services.orchestrator.payload import ConfirmationView, Status
from voice_mcp.services.orchestrator.resume import LocalRecord, ResumeContext
from voice_mcp.services.orchestrator.search import answer_searches, split_searches
from voice_mcp.services.orchestrator.state import RunState

OUT_OF_ROUNDS = "I couldn't finish that in the steps I'm allowed. Please try a simpler request."


async def converse(deps: Deps, state: RunState) -> None:
    """Run LLM rounds until a final answer, a question, a held action, or the round limit."""
    while state.rounds < deps.settings.llm_max_rounds:
        after_tools = bool(state.results) or state.rounds > 0
        if after_tools:
            state.emit(Summarizing(message="Putting the answer together"))
        turn = await _ask(deps, state)
        if not state.command.stream_text:  # a whole round: its text in one piece
            state.deltas.feed(turn.content or "")
        if not turn.tool_calls:
            state.timings.lap("summarize" if after_tools else "plan")
            state.deltas.close()
            state.outcome.response = state.deltas.sent
            state.outcome.status = Status.COMPLETED
            return
        state.timings.lap("plan")
        state.deltas.pause()  # text before the calls was spoken; the rest follows after a space
        if await _handle_tool_calls(deps, state, turn):
            return
    state.outcome.response = OUT_OF_ROUNDS
    state.outcome.status = Status.FAILED


async def _ask(deps: Deps, state: RunState) -> AssistantTurn:
    """One LLM round; its text feeds the deltas as it streams, its timings the breakdown."""
    streamed = state.command.stream_text
    listener = RoundListener(on_text=state.deltas.feed if streamed else None)
    try:
        turn = await deps.llm.complete(state.messages, state.openai_tools, listener)
    finally:
        state.rounds += 1
        deps.metrics.llm_requests.inc()
        _record_round(deps, state, listener)
    return turn


def _record_round(deps: Deps, state: RunState, listener: RoundListener) -> None:
    name = f"llm{state.rounds}"
    state.timings.detail(name, listener.total_s)
    deps.metrics.llm_round.labels(str(state.rounds), "total").observe(listener.total_s)
    if listener.first_token_s is not None:
        state.timings.detail(f"{name}FirstToken", listener.first_token_s)
        deps.metrics.llm_round.labels(str(state.rounds), "first_token").observe(
            listener.first_token_s)


async def _handle_tool_calls(deps: Deps, state: RunState, turn: AssistantTurn) -> bool:
    """Act on one round of tool calls; True when the command stops here."""
    state.messages.append(turn.to_message())
    question = next((c for c in turn.tool_calls if c.name == ASK_USER), None)
    if question is not None:
        text = str(question.arguments.get("question") or "Could you say a bit more?")
        state.outcome.question = text
        state.outcome.response = text
        state.outcome.status = Status.CLARIFICATION_NEEDED
        return True
    searches, calls = split_searches(turn.tool_calls)
    if searches:
        await answer_searches(deps, state, searches)
    plan = plan_calls(deps, state, calls)
    chosen = [c.qualified_name for c in plan.runnable + plan.held]
    if chosen:
        state.emit(Selecting(message=f"Chose {', '.join(chosen)}", tools=chosen))
    if plan.runnable:
        await execute(deps, state, plan.runnable)
    if plan.held:
        await hold(deps, state, plan.held)
        state.timings.lap("hold")
        return True
    return False


async def hold(deps: Deps, state: RunState, held: list[PlannedCall],
               local: LocalRecord | None = None) -> None:
    """Freeze the risky calls in a pending confirmation and stop the command there."""
    actions = frozen_actions(held)
    context = ResumeContext(messages=state.messages, query=state.query,
                            transcript=state.transcript, rounds=state.rounds, local=local)
    pending = await deps.confirmations.create(state.command.user_id, state.command.conversation_id,
                                              actions, context.dump())
    state.outcome.confirmation = ConfirmationView.model_validate(pending.to_payload())
    views = state.outcome.confirmation.actions
    state.outcome.status = Status.CONFIRMATION_REQUIRED
    names = ", ".join(f"{a.service}.{a.tool}" for a in views)
    state.outcome.response = f"I need your approval before I run {names}."
    state.emit(ConfirmationRequired(message=state.outcome.response, confirmation_id=pending.id,
                                    expires_at=pending.expires_at,
                                    actions=[v.model_dump(by_alias=True) for v in views]))
