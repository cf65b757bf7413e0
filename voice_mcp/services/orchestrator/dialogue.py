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
from voice_mcp.services.orchestrator.payload import ConfirmationView
from voice_mcp.services.orchestrator.resume import LocalRecord
from voice_mcp.services.orchestrator.run import Run
from voice_mcp.services.orchestrator.search import answer_searches, split_searches

OUT_OF_ROUNDS = "I couldn't finish that in the steps I'm allowed. Please try a simpler request."


async def converse(deps: Deps, run: Run) -> None:
    """Run LLM rounds until a final answer, a question, a held action, or the round limit."""
    while run.conversation.rounds < deps.settings.llm_max_rounds:
        after_tools = bool(run.outcome.results) or run.conversation.rounds > 0
        if after_tools:
            run.emit(Summarizing(message="Putting the answer together"))
        turn = await _ask(deps, run)
        if not run.command.stream_text:  # a whole round: its text in one piece
            run.deltas.feed(turn.content or "")
        if not turn.tool_calls:
            run.timings.lap("summarize" if after_tools else "plan")
            run.deltas.close()
            run.outcome.complete(run.deltas.sent)
            return
        run.timings.lap("plan")
        run.deltas.pause()  # text before the calls was spoken; the rest follows after a space
        if await _handle_tool_calls(deps, run, turn):
            return
    run.outcome.fail(OUT_OF_ROUNDS)


async def _ask(deps: Deps, run: Run) -> AssistantTurn:
    """One LLM round; its text feeds the deltas as it streams, its timings the breakdown."""
    streamed = run.command.stream_text
    listener = RoundListener(on_text=run.deltas.feed if streamed else None)
    try:
        turn = await deps.llm.complete(run.conversation.messages, run.tools.functions, listener)
    finally:
        number = run.conversation.round_done()
        deps.metrics.llm_requests.inc()
        _record_round(deps, run, number, listener)
    return turn


def _record_round(deps: Deps, run: Run, number: int, listener: RoundListener) -> None:
    name = f"llm{number}"
    run.timings.detail(name, listener.total_s)
    deps.metrics.llm_round.labels(str(number), "total").observe(listener.total_s)
    if listener.first_token_s is not None:
        run.timings.detail(f"{name}FirstToken", listener.first_token_s)
        deps.metrics.llm_round.labels(str(number), "first_token").observe(
            listener.first_token_s)


async def _handle_tool_calls(deps: Deps, run: Run, turn: AssistantTurn) -> bool:
    """Act on one round of tool calls; True when the command stops here."""
    run.conversation.add(turn.to_message())
    question = next((c for c in turn.tool_calls if c.name == ASK_USER), None)
    if question is not None:
        run.outcome.ask(str(question.arguments.get("question") or "Could you say a bit more?"))
        return True
    searches, calls = split_searches(turn.tool_calls)
    if searches:
        await answer_searches(deps, run, searches)
    plan = plan_calls(deps, run, calls)
    chosen = [c.qualified_name for c in plan.runnable + plan.held]
    if chosen:
        run.emit(Selecting(message=f"Chose {', '.join(chosen)}", tools=chosen))
    if plan.runnable:
        await execute(deps, run, plan.runnable)
    if plan.held:
        await hold(deps, run, plan.held)
        run.timings.lap("hold")
        return True
    return False


async def hold(deps: Deps, run: Run, held: list[PlannedCall],
               local: LocalRecord | None = None) -> None:
    """Freeze the risky calls in a pending confirmation and stop the command there."""
    context = run.conversation.frozen(run.said.query, run.said.transcript, local)
    command = run.command
    pending = await deps.confirmations.create(command.user_id, command.conversation_id,
                                              frozen_actions(held), context.dump())
    confirmation = ConfirmationView.model_validate(pending.to_payload())
    views = confirmation.actions
    names = ", ".join(f"{a.service}.{a.tool}" for a in views)
    run.outcome.hold(confirmation, f"I need your approval before I run {names}.")
    run.emit(ConfirmationRequired(message=run.outcome.response, confirmation_id=pending.id,
                                  expires_at=pending.expires_at,
                                  actions=[v.model_dump(by_alias=True) for v in views]))
