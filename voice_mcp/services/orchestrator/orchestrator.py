"""Run a command through its stages as a stream of events that always ends in one `done`."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable

from voice_mcp.errors import AppError, to_app_error
from voice_mcp.services import tracing
from voice_mcp.services.confirmations import PendingAction, PendingConfirmation
from voice_mcp.services.history import Turn
from voice_mcp.services.lifecycle import draining_stop
from voice_mcp.services.orchestrator.deps import Deps
from voice_mcp.services.orchestrator.dialogue import converse
from voice_mcp.services.orchestrator.events import (
    Analyzing,
    Done,
    ErrorEvent,
    Event,
    Progress,
    Transcribing,
)
from voice_mcp.services.orchestrator.execution import execute, resolve_actions
from voice_mcp.services.orchestrator.intake import (
    analyze,
    discover,
    recall,
    transcribe,
    usable_services,
)
from voice_mcp.services.orchestrator.local import answer_locally, finish, no_llm
from voice_mcp.services.orchestrator.payload import ErrorView, Status
from voice_mcp.services.orchestrator.resume import ResumeContext
from voice_mcp.services.orchestrator.state import Command, RunState

log = logging.getLogger(__name__)
Body = Callable[[RunState], Awaitable[None]]
DECLINED = "Okay, I won't do that."
ANALYZING = "Understanding your request"


class Orchestrator:
    """Owns the stage order; knows nothing of HTTP or SSE."""

    def __init__(self, deps: Deps) -> None:
        self.deps = deps

    def run(self, command: Command) -> AsyncIterator[Event]:
        """Stream a new command: (transcribe) -> analyze -> discover -> select/execute."""
        # The first stage is announced by the stream itself, before any task or I/O starts.
        first: Progress = (Transcribing(message="Listening to your recording")
                           if command.audio is not None else Analyzing(message=ANALYZING))
        return self._stream(command, self._new_command, first)

    async def take_confirmation(self, user_id: str, confirmation_id: str) -> PendingConfirmation:
        """Claim a pending confirmation; single use, so a second claim fails (409)."""
        return await self.deps.confirmations.take(user_id, confirmation_id)

    def resume(self, pending: PendingConfirmation, approved: bool, *,
               stream_text: bool = True) -> AsyncIterator[Event]:
        """Stream what follows a claimed confirmation: the frozen actions, then the LLM."""
        context = ResumeContext.model_validate(pending.context)
        command = Command(user_id=pending.user_id, query=context.query,
                          conversation_id=pending.conversation_id, stream_text=stream_text)

        async def body(state: RunState) -> None:
            await self._resume(state, context, pending.actions, approved)

        return self._stream(command, body)

    async def _new_command(self, state: RunState) -> None:
        deps = self.deps
        if state.command.audio is not None:
            if not await transcribe(deps, state):
                return
            state.emit(Analyzing(message=ANALYZING))
        mode = deps.settings.local_intents
        # A template's answer reads no earlier turns: with templates first, the history (a
        # Redis round trip) is read only once the LLM, or a hold, needs it.
        await analyze(deps, state, recall=mode != "prefer")
        if mode == "prefer" and await answer_locally(deps, state):
            return
        if not deps.settings.llm_configured:
            if mode == "fallback" and await answer_locally(deps, state):
                return
            usable, _unusable = await usable_services(deps, state)
            raise no_llm(deps, state, usable)
        await recall(deps, state)
        await discover(deps, state)
        try:
            await converse(deps, state)
        except AppError as err:
            # `fallback`: templates answer when the LLM fails before anything ran.
            if not (mode == "fallback" and err.code.startswith("llm_") and not state.results
                    and await answer_locally(deps, state)):
                raise

    async def _resume(self, state: RunState, context: ResumeContext,
                      actions: list[PendingAction], approved: bool) -> None:
        state.transcript = context.transcript
        if not approved:
            state.outcome.status = Status.CANCELLED
            state.outcome.response = DECLINED
            return
        state.messages = list(context.messages)
        state.rounds = context.rounds
        state.pinned.update(f"{a.service}.{a.tool}" for a in actions)
        # The tools as they are now (warm cache, no event: the stream begins with the approved
        # actions); the actions run exactly as frozen, then the LLM finishes the command.
        await discover(self.deps, state, announce=False)
        planned = resolve_actions(self.deps, state, actions)
        await execute(self.deps, state, planned)
        if context.local is not None:  # a template held it: its response answers, no LLM
            state.processed_locally = True
            finish(self.deps, state, context.local.match(), planned[-1].tool)
            return
        await converse(self.deps, state)

    async def _stream(self, command: Command, body: Body,
                      first: Progress | None = None) -> AsyncIterator[Event]:
        """Run `body` as a task; yield its events; cancel it if the consumer goes away."""
        if first is not None:
            yield first
        queue: asyncio.Queue[Event] = asyncio.Queue()
        state = RunState(command=command, emit=queue.put_nowait)
        task = asyncio.create_task(self._guarded(state, body))
        try:
            while True:
                event = await queue.get()
                yield event
                if isinstance(event, Done):
                    return
        finally:
            if not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    async def _guarded(self, state: RunState, body: Body) -> None:
        """Apply the command budget and turn every failure into an error event, then done."""
        deadline = asyncio.timeout(self.deps.settings.request_timeout_s)
        try:
            async with deadline:
                with self.deps.lifecycle.bounding(deadline), tracing.stages():
                    await body(state)
        except TimeoutError:
            if self.deps.lifecycle.expired and deadline.expired():
                self._fail(state, draining_stop(), Status.CANCELLED)
            elif not deadline.expired():
                self._fail(state, AppError("A step took too long.", code="step_timeout",
                                           retryable=True))
            else:
                self._fail(state, AppError("The command took too long and was stopped.",
                                           code="timeout", retryable=True), Status.TIMEOUT)
        except Exception as exc:
            self._fail(state, to_app_error(exc, "command"))
        await self._finish(state)

    def _fail(self, state: RunState, err: AppError, status: Status = Status.FAILED) -> None:
        state.outcome.status = status
        state.outcome.error = ErrorView(code=err.code, message=err.message,
                                        retryable=err.retryable)
        if not state.outcome.response:
            state.outcome.response = err.message
        state.settle_response()  # what is said goes out before the error event, as deltas
        state.emit(ErrorEvent(code=err.code, message=err.message, retryable=err.retryable))

    async def _finish(self, state: RunState) -> None:
        """Record the turn and metrics, then emit the one done event."""
        state.settle_response()
        payload = state.payload()
        metrics = self.deps.metrics
        metrics.commands.labels(payload.status.value).inc()
        for stage, ms in state.timings.items():
            metrics.stage_latency.labels(stage).observe(ms / 1000)
        if state.first_delta is not None:
            metrics.first_delta.observe(state.first_delta / 1000)
        if state.query and payload.status != Status.TIMEOUT:
            turn = Turn(query=state.query, response=payload.response, status=payload.status,
                        tools=[f"{r.service}.{r.tool}" for r in state.results])
            try:
                await self.deps.history.append(state.command.user_id,
                                               state.command.conversation_id, turn)
            except Exception as err:  # history is a convenience; the answer matters more
                log.warning("could not record history: %s", type(err).__name__)
        state.emit(Done(payload=payload))
