"""Per-command state: what one run has learnt so far. Frozen input, mutable progress."""

from __future__ import annotations

import time
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from voice_mcp.services.llm.tool_names import ToolSet
from voice_mcp.services.mcp.models import ToolCallResult, ToolInfo
from voice_mcp.services.orchestrator.deltas import DeltaCoalescer
from voice_mcp.services.orchestrator.events import Delta, Event
from voice_mcp.services.orchestrator.payload import (
    ConfirmationView,
    DonePayload,
    ErrorView,
    ResultView,
    Status,
)
from voice_mcp.services.stt.audio_format import AudioFormat

# What may follow a question mark without hiding it: spaces, emoji and other symbols (with
# their joiners, variation selectors and skin tones), closing quotes and brackets, "!".
_TRAILING_CATEGORIES = ("Z", "S", "Pe", "Pf", "Mn", "Me", "Cf", "Cc")
_TRAILING_MARKS = frozenset("!\"'！")
_QUESTION_MARKS = ("?", "？", "¿", "؟", "\u037e")


def asks_question(text: str) -> bool:
    """True when `text` ends with a question, whatever symbols or spaces trail it."""
    end = len(text)
    while end and (text[end - 1] in _TRAILING_MARKS
                   or unicodedata.category(text[end - 1]).startswith(_TRAILING_CATEGORIES)):
        end -= 1
    return text[:end].endswith(_QUESTION_MARKS)


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
    # A streamed (SSE) command: its LLM rounds are always streamed, for the `delta` events.
    # Answered as JSON, nobody reads deltas and VOICE_MCP_LLM_STREAM decides.
    stream_text: bool = True


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
    discovered: list[ToolInfo] = field(default_factory=list)  # every usable tool, as listed
    offered: list[ToolInfo] = field(default_factory=list)  # the ones the LLM is offered
    pinned: set[str] = field(default_factory=set)  # `service.tool` always offered (history)
    recalled: bool = False  # the earlier turns are in `messages` (see intake.analyze)
    usable: tuple[list[str], dict[str, str]] | None = None  # usable services, once asked
    unavailable: dict[str, str] = field(default_factory=dict)
    results: list[ToolCallResult] = field(default_factory=list)
    rounds: int = 0
    processed_locally: bool = False  # a sentence template chose the tool
    local_problem: str | None = None  # a template matched but its arguments did not check
    outcome: Outcome = field(default_factory=Outcome)
    timings: dict[str, float] = field(default_factory=dict)
    details: dict[str, float] = field(default_factory=dict)
    started: float = field(default_factory=time.perf_counter)
    first_delta: float | None = None

    def __post_init__(self) -> None:
        if not self.query:
            self.query = self.command.query
        self._lap = self.started
        self.deltas = DeltaCoalescer(self._send_delta)

    def _send_delta(self, text: str) -> None:
        if self.first_delta is None:
            self.first_delta = (time.perf_counter() - self.started) * 1000
        self.emit(Delta(text=text))

    def lap(self, stage: str) -> None:
        """Charge the time since the previous lap to `stage`.

        Stages are consecutive laps of one clock, so they add up to `totalExecutionTime`
        (docs/streaming.md); whatever ran between two stages counts toward the next.
        """
        now = time.perf_counter()
        self.timings[stage] = self.timings.get(stage, 0.0) + (now - self._lap) * 1000
        self._lap = now

    def detail(self, name: str, seconds: float) -> None:
        """Record one part inside a stage (an LLM round, a tool call), in the done timings."""
        self.details[name] = seconds * 1000

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

    def continue_conversation(self) -> bool:
        """True when the response asks the user something (a device may reopen its mic)."""
        if self.outcome.status in (Status.CLARIFICATION_NEEDED, Status.CONFIRMATION_REQUIRED):
            return True
        return self.outcome.status == Status.COMPLETED and asks_question(self.outcome.response)

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
            processed_locally=self.processed_locally,
            continue_conversation=self.continue_conversation(),
            total_execution_time=round((time.perf_counter() - self.started) * 1000),
            timings=self.timing_view(),
        )

    def timing_view(self) -> dict[str, int]:
        """Stages (additive), then the parts inside them and `firstDelta`, in whole ms."""
        view = {k: round(v) for k, v in self.timings.items()}
        view.update({k: round(v) for k, v in self.details.items()})
        if self.first_delta is not None:
            view["firstDelta"] = round(self.first_delta)
        return view
