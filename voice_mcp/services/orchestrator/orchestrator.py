"""Run a command through its stages as a stream of events that always ends in one `done`.

The route calls `run` (or `resume`); `_stream` starts `_guarded` as a task and yields what it
emits; `_guarded` runs the body under the command budget, turns any failure into one error
event and always ends in `_finish`, the done event. The stages, each one function that ends
in one `Timings.lap` (where a span or an event hooks in):

| stage | function | lap |
|---|---|---|
| transcribe | `intake.transcribe` | transcribe |
| analyze | `intake.analyze` (again by `intake.recall` when history is needed) | analyze |
| templates | `local.answer_locally`, when the `LocalMode` strategy says so | plan |
| discover | `intake.discover`; `search.answer_searches` adds tools mid-dialogue | discover |
| select | `dialogue.converse`, one `_ask` per LLM round | plan / summarize |
| execute | `execution.execute`, for the LLM's calls, a template's and approved actions | execute |
| hold | `dialogue.hold`, freezing the conversation into a confirmation | hold |

Every stage reads and changes the run only through its parts (`run.Run`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable

from voice_mcp.errors import AppError, to_app_error
from voice_mcp.services import tracing
from voice_mcp.services.asking.scope import clock
from voice_mcp.services.confirmations import PendingAction, PendingConfirmation
from voice_mcp.services.history import Turn
from voice_mcp.services.lifecycle import draining_stop
from voice_mcp.services.orchestrator.access import UsableServices
from voice_mcp.services.orchestrator.command import Command, Said
from voice_mcp.services.orchestrator.conversation import Conversation
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
from voice_mcp.services.orchestrator.intake import analyze, discover, recall, transcribe
from voice_mcp.services.orchestrator.local import finish, no_llm
from voice_mcp.services.orchestrator.local_mode import choose_local_mode
from voice_mcp.services.orchestrator.payload import Status
from voice_mcp.services.orchestrator.resume import ResumeContext
from voice_mcp.services.orchestrator.run import Run

log = logging.getLogger(__name__)
Body = Callable[[Run], Awaitable[None]]
DECLINED = "Okay, I won't do that."
ANALYZING = "Understanding your request"


class Orchestrator:
    """Owns the stage order; knows nothing of HTTP or SSE."""

    def __init__(self, deps: Deps) -> None:
        self.deps = deps
        self.local = choose_local_mode(deps)  # the template mode, resolved once

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

        async def body(run: Run) -> None:
            await self._resume(run, context, pending.actions, approved)

        return self._stream(command, body)

    async def _new_command(self, run: Run) -> None:
        """transcribe -> analyze -> [templates] -> discover -> select/execute/summarize."""
        deps, local = self.deps, self.local
        if run.command.audio is not None:
            if not await transcribe(deps, run):
                return
            run.emit(Analyzing(message=ANALYZING))
        await analyze(deps, run, recall=local.reads_history_first)
        attempt = await local.before_llm(run)
        if attempt.answered:
            return
        if not deps.settings.llm_configured:
            attempt = await local.without_llm(run, attempt)
            if attempt.answered:
                return
            raise await no_llm(deps, run, attempt)
        await recall(deps, run)
        await discover(deps, run)
        try:
            await converse(deps, run)
        except AppError as err:
            if not await local.after_llm_failure(run, err):
                raise

    async def _resume(self, run: Run, context: ResumeContext,
                      actions: list[PendingAction], approved: bool) -> None:
        """Approved: the frozen actions run as held, then the LLM (or the template) answers."""
        run.said = Said(context.query, context.transcript)
        if not approved:
            run.outcome.cancel(DECLINED)
            return
        run.conversation = Conversation.resumed(context, actions)
        # The tools as they are now (warm cache, no event: the stream begins with the approved
        # actions); the actions run exactly as frozen, then the LLM finishes the command.
        await discover(self.deps, run, announce=False)
        planned = resolve_actions(self.deps, run, actions)
        await execute(self.deps, run, planned)
        if context.local is not None:  # a template held it: its response answers, no LLM
            run.outcome.chosen_by_template()
            finish(self.deps, run, context.local.match(), planned[-1].tool)
            return
        await converse(self.deps, run)

    async def _stream(self, command: Command, body: Body,
                      first: Progress | None = None) -> AsyncIterator[Event]:
        """Run `body` as a task; yield its events; cancel it if the consumer goes away."""
        if first is not None:
            yield first
        queue: asyncio.Queue[Event] = asyncio.Queue()
        run = Run(command, queue.put_nowait, UsableServices(self.deps.directory, command.user_id))
        task = asyncio.create_task(self._guarded(run, body))
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

    async def _guarded(self, run: Run, body: Body) -> None:
        """Apply the command budget and turn every failure into an error event, then done."""
        deadline = asyncio.timeout(self.deps.settings.request_timeout_s)
        try:
            async with deadline:
                with self.deps.lifecycle.bounding(deadline), tracing.stages(), \
                        clock(deadline):
                    await body(run)
        except TimeoutError:
            if self.deps.lifecycle.expired and deadline.expired():
                self._fail(run, draining_stop(), Status.CANCELLED)
            elif not deadline.expired():
                self._fail(run, AppError("A step took too long.", code="step_timeout",
                                         retryable=True))
            else:
                self._fail(run, AppError("The command took too long and was stopped.",
                                         code="timeout", retryable=True), Status.TIMEOUT)
        except Exception as exc:
            self._fail(run, to_app_error(exc, "command"))
        await self._finish(run)

    def _fail(self, run: Run, err: AppError, status: Status = Status.FAILED) -> None:
        run.outcome.stop(err, status)
        run.settle_response()  # what is said goes out before the error event, as deltas
        run.emit(ErrorEvent(code=err.code, message=err.message, retryable=err.retryable))

    async def _finish(self, run: Run) -> None:
        """Record the turn and metrics, then emit the one done event."""
        run.settle_response()
        payload = run.payload()
        metrics = self.deps.metrics
        metrics.commands.labels(payload.status.value).inc()
        run.timings.observe(metrics)
        if payload.query and payload.status != Status.TIMEOUT:
            turn = Turn(query=payload.query, response=payload.response, status=payload.status,
                        tools=[f"{r.service}.{r.tool}" for r in run.outcome.results])
            try:
                await self.deps.history.append(run.command.user_id,
                                               run.command.conversation_id, turn)
            except Exception as err:  # history is a convenience; the answer matters more
                log.warning("could not record history: %s", type(err).__name__)
        run.emit(Done(payload=payload))
