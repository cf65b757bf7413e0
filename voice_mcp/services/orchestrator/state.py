"""Per-command state: what one run has learnt so far. Frozen input, mutable progress."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from voice_mcp.services.audio_format import AudioFormat
from voice_mcp.services.llm.tool_names import ToolSet
from voice_mcp.services.mcp.models import ToolCallResult
from voice_mcp.services.orchestrator.events import Event
from voice_mcp.services.orchestrator.payload import (
    ConfirmationView,
    DonePayload,
    ErrorView,
    ResultView,
    Status,
)


@dataclass(frozen=True)
class AudioInput:
    """A recording to transcribe before the command runs."""

    data: bytes
    format: AudioFormat


@dataclass(frozen=True)
class Command:
    """What the user asked, and on whose behalf."""

    user_id: str
    query: str
    conversation_id: str
    audio: AudioInput | None = None


@dataclass
class Outcome:
    """How the run ended; filled in by the stage that ends it."""

    status: Status = Status.COMPLETED
    response: str = ""
    confirmation: ConfirmationView | None = None
    question: str | None = None
    error: ErrorView | None = None


@dataclass
class RunState:
    """The mutable state of one command as it moves through the stages."""

    command: Command
    emit: Callable[[Event], None]
    query: str = ""
    transcript: str | None = None
    messages: list[dict[str, Any]] = field(default_factory=list)
    tool_set: ToolSet = field(default_factory=lambda: ToolSet(()))
    openai_tools: list[dict[str, Any]] = field(default_factory=list)
    unavailable: dict[str, str] = field(default_factory=dict)
    results: list[ToolCallResult] = field(default_factory=list)
    rounds: int = 0
    outcome: Outcome = field(default_factory=Outcome)
    timings: dict[str, float] = field(default_factory=dict)
    started: float = field(default_factory=time.perf_counter)

    def __post_init__(self) -> None:
        if not self.query:
            self.query = self.command.query

    def add_time(self, stage: str, since: float) -> None:
        """Charge the time since `since` (perf_counter) to a stage."""
        self.timings[stage] = self.timings.get(stage, 0.0) + (time.perf_counter() - since) * 1000

    def payload(self) -> DonePayload:
        """The done payload for the run as it stands."""
        outcome = self.outcome
        clarification = {"question": outcome.question} if outcome.question else None
        return DonePayload(
            success=outcome.status == Status.COMPLETED,
            status=outcome.status,
            query=self.query,
            transcript=self.transcript,
            conversation_id=self.command.conversation_id,
            response=outcome.response,
            results=[ResultView.of(r) for r in self.results],
            confirmation=outcome.confirmation,
            clarification=clarification,
            error=outcome.error,
            unavailable=self.unavailable,
            total_execution_time=round((time.perf_counter() - self.started) * 1000),
            timings={k: round(v) for k, v in self.timings.items()},
        )
