"""What a command decided: its status and answer, the tools it ran, the services it missed.

Each way a command can end is one method, so the status and the fields that go with it
(a question, a confirmation, an error) are always set together.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from voice_mcp.errors import AppError
from voice_mcp.services.mcp.models import ToolCallResult
from voice_mcp.services.orchestrator.payload import ConfirmationView, ErrorView, Status
from voice_mcp.services.orchestrator.questions import asks_question


@dataclass
class Outcome:
    """How the run ended, and what it did on the way; read by the done payload."""

    status: Status = Status.COMPLETED
    response: str = ""
    confirmation: ConfirmationView | None = None
    question: str | None = None
    error: ErrorView | None = None
    results: list[ToolCallResult] = field(default_factory=list)
    unavailable: dict[str, str] = field(default_factory=dict)
    processed_locally: bool = False  # a sentence template chose the tool

    def complete(self, response: str) -> None:
        self.status, self.response = Status.COMPLETED, response

    def ask(self, question: str) -> None:
        """End by asking the user something (a device reopens its mic)."""
        self.status, self.question, self.response = Status.CLARIFICATION_NEEDED, question, question

    def hold(self, confirmation: ConfirmationView, response: str) -> None:
        """End waiting for the user's approval of the held actions."""
        self.status, self.confirmation = Status.CONFIRMATION_REQUIRED, confirmation
        self.response = response

    def cancel(self, response: str) -> None:
        self.status, self.response = Status.CANCELLED, response

    def fail(self, response: str, error: ErrorView | None = None) -> None:
        self.status, self.response, self.error = Status.FAILED, response, error

    def stop(self, err: AppError, status: Status) -> None:
        """End on an error; what was already said stays the response."""
        self.status = status
        self.error = ErrorView(code=err.code, message=err.message, retryable=err.retryable)
        if not self.response:
            self.response = err.message

    def chosen_by_template(self) -> None:
        """Note that a sentence template, not the LLM, chose the tool (`processedLocally`)."""
        self.processed_locally = True

    def add_result(self, result: ToolCallResult) -> int:
        """Keep a tool call's result; its number in the run (from 1)."""
        self.results.append(result)
        return len(self.results)

    def missing(self, unavailable: dict[str, str]) -> None:
        """Note services that could not be used, with why (an error code)."""
        self.unavailable.update(unavailable)

    def continue_conversation(self) -> bool:
        """True when the response asks the user something (a device may reopen its mic)."""
        if self.status in (Status.CLARIFICATION_NEEDED, Status.CONFIRMATION_REQUIRED):
            return True
        return self.status == Status.COMPLETED and asks_question(self.response)
