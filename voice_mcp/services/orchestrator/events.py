"""The typed events a command produces; the route layer writes them as SSE (docs/api.md, "Events").

Every event has a `kind`, the SSE `event:` name it is sent under, and `wire()`, its JSON
`data:`. A progress event is one model per progress `type`, each with only its own fields.

To add a progress type: add its wire name to `Stage`, subclass `Progress` with
`type: Literal[Stage.X] = Stage.X` and its fields, and list it in `ProgressEvent`.
To add an event kind (another `event:` name): subclass `EventBase` with `kind = "name"`
and list it in `Event`. Emit either with `run.emit(Model(...))` (`run.Run`).
"""

from __future__ import annotations

import time
from enum import StrEnum
from typing import Annotated, Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter
from pydantic.alias_generators import to_camel

from voice_mcp.services.orchestrator.payload import DonePayload


def now_ms() -> int:
    """Wall-clock epoch milliseconds, the `timestamp` of every progress event."""
    return int(time.time() * 1000)


class Stage(StrEnum):
    """Progress types, in the order they can occur; the values are the wire names."""

    TRANSCRIBING = "transcribing"
    TRANSCRIBED = "transcribed"
    ANALYZING = "analyzing"
    DISCOVERING = "discovering"
    SELECTING = "selecting"
    CONFIRMATION_REQUIRED = "confirmation_required"
    EXECUTING = "executing"
    TOOL_PROGRESS = "tool_progress"
    INPUT_REQUIRED = "input_required"
    EXECUTED = "executed"
    SUMMARIZING = "summarizing"


class EventBase(BaseModel):
    """What every event shares: strict fields, camelCase on the wire, unset extras left off."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, frozen=True,
                              extra="forbid")

    kind: ClassVar[str]

    def wire(self) -> dict[str, Any]:
        """The event's JSON `data:`."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


class Progress(EventBase):
    """A `progress` event: a stage began or advanced. Subclasses set `type` and add fields."""

    kind: ClassVar[str] = "progress"

    type: Stage
    message: str
    timestamp: int = Field(default_factory=now_ms)


class Transcribing(Progress):
    type: Literal[Stage.TRANSCRIBING] = Stage.TRANSCRIBING


class Transcribed(Progress):
    type: Literal[Stage.TRANSCRIBED] = Stage.TRANSCRIBED
    transcript: str


class Analyzing(Progress):
    type: Literal[Stage.ANALYZING] = Stage.ANALYZING


class Discovering(Progress):
    type: Literal[Stage.DISCOVERING] = Stage.DISCOVERING
    services: int
    tools: int
    offered: int
    unavailable: dict[str, str] | None = None


class Selecting(Progress):
    type: Literal[Stage.SELECTING] = Stage.SELECTING
    tools: list[str]
    local: bool | None = None  # true: a sentence template chose, not the LLM


class ConfirmationRequired(Progress):
    type: Literal[Stage.CONFIRMATION_REQUIRED] = Stage.CONFIRMATION_REQUIRED
    confirmation_id: str
    expires_at: int
    actions: list[dict[str, Any]]


class Executing(Progress):
    type: Literal[Stage.EXECUTING] = Stage.EXECUTING
    service: str
    tool: str
    index: int
    total: int


class ToolProgress(Progress):
    type: Literal[Stage.TOOL_PROGRESS] = Stage.TOOL_PROGRESS
    service: str
    tool: str
    progress: float
    total: float | None = None


class InputRequired(Progress):
    """A service asks the user something mid-call (docs/api.md, "Services that ask")."""

    type: Literal[Stage.INPUT_REQUIRED] = Stage.INPUT_REQUIRED
    input_id: str
    service: str
    tool: str
    mode: Literal["form", "url"]
    expires_at: int
    fields: list[dict[str, Any]] | None = None
    url: str | None = None


class Executed(Progress):
    type: Literal[Stage.EXECUTED] = Stage.EXECUTED
    service: str
    tool: str
    success: bool
    duration_ms: int


class Summarizing(Progress):
    type: Literal[Stage.SUMMARIZING] = Stage.SUMMARIZING


ProgressEvent = Annotated[
    Transcribing | Transcribed | Analyzing | Discovering | Selecting | ConfirmationRequired
    | Executing | ToolProgress | InputRequired | Executed | Summarizing,
    Field(discriminator="type"),
]
"""Every progress type; parse a `progress` event's data with `PROGRESS.validate_python`."""
PROGRESS: TypeAdapter[ProgressEvent] = TypeAdapter(ProgressEvent)


class Delta(EventBase):
    """A `delta` event: the next piece of the spoken answer; all of them join to `response`."""

    kind: ClassVar[str] = "delta"

    text: str


class ErrorEvent(EventBase):
    """An `error` event; a `done` event always follows it."""

    kind: ClassVar[str] = "error"

    code: str
    message: str
    retryable: bool = False


class Done(EventBase):
    """The one `done` event that ends every command."""

    kind: ClassVar[str] = "done"

    payload: DonePayload

    def wire(self) -> dict[str, Any]:
        return self.payload.wire()


Event = Progress | Delta | ErrorEvent | Done
