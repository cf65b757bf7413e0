"""One command in flight: a part per lifetime, each changed only through its own methods.

- `command` (fixed): the request and its user; `said`: the request as text, set once heard.
- `conversation`: what the LLM reads; frozen by a hold and thawed by an approval.
- `tools`: what the user can call and what the LLM is offered (search_tools adds to it).
- `outcome`: what the command decided and did; `timings`: how long each stage took.
The settings are the process's (`Deps.settings`), fixed for every command.
"""

from __future__ import annotations

from collections.abc import Callable

from voice_mcp.services.orchestrator.access import UsableServices
from voice_mcp.services.orchestrator.command import Command, Said
from voice_mcp.services.orchestrator.conversation import Conversation
from voice_mcp.services.orchestrator.deltas import DeltaCoalescer
from voice_mcp.services.orchestrator.events import Delta, Event
from voice_mcp.services.orchestrator.outcome import Outcome
from voice_mcp.services.orchestrator.payload import DonePayload, ResultView, Status
from voice_mcp.services.orchestrator.timings import Timings
from voice_mcp.services.orchestrator.tool_view import ToolView


class Run:
    """The state of one command as it moves through the stages; `emit` sends its events."""

    def __init__(self, command: Command, emit: Callable[[Event], None],
                 services: UsableServices) -> None:
        self.command = command
        self.emit = emit
        self.services = services
        self.said = Said(command.query)
        self.conversation = Conversation()  # opened by analyze, or thawed on approval
        self.tools = ToolView()  # replaced by discovery
        self.outcome = Outcome()
        self.timings = Timings()
        self.deltas = DeltaCoalescer(self._send_delta)

    def _send_delta(self, text: str) -> None:
        self.timings.delta_sent()
        self.emit(Delta(text=text))

    def settle_response(self) -> None:
        """Make the deltas and the response one text: say what was not streamed, then close.

        A response that did not come from the streamed answer (a question, a held action, an
        error) goes out as a delta of its own, after any text already streamed.
        """
        self.deltas.close()
        response = self.outcome.response.strip()
        if response and self.deltas.sent != response:
            self.deltas.pause()
            self.deltas.feed(response)
            self.deltas.close()
        self.outcome.response = self.deltas.sent

    def payload(self) -> DonePayload:
        """The done payload for the run as it stands."""
        outcome = self.outcome
        clarification = {"question": outcome.question} if outcome.question else None
        return DonePayload(
            success=outcome.status == Status.COMPLETED,
            status=outcome.status,
            query=self.said.query,
            transcript=self.said.transcript,
            conversation_id=self.command.conversation_id,
            response=outcome.response,
            results=[ResultView.of(r) for r in outcome.results],
            confirmation=outcome.confirmation,
            clarification=clarification,
            error=outcome.error,
            unavailable=outcome.unavailable,
            processed_locally=outcome.processed_locally,
            continue_conversation=outcome.continue_conversation(),
            total_execution_time=round(self.timings.elapsed_ms()),
            timings=self.timings.view(),
        )
