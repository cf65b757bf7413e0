"""The typed events a command produces; the route layer writes them as SSE (contract section 5)."""

from __future__ import annotations

import time
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
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
    EXECUTED = "executed"
    SUMMARIZING = "summarizing"


class Progress(BaseModel):
    """A `progress` event: a stage began or advanced. Unset extras are left off the wire."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, frozen=True)

    kind: Literal["progress"] = Field("progress", exclude=True)
    type: Stage
    message: str
    timestamp: int = Field(default_factory=now_ms)
    transcript: str | None = None
    services: int | None = None
    tools: int | list[str] | None = None
    unavailable: dict[str, str] | None = None
    confirmation_id: str | None = None
    expires_at: int | None = None
    actions: list[dict[str, Any]] | None = None
    service: str | None = None
    tool: str | None = None
    index: int | None = None
    total: float | None = None
    progress: float | None = None
    success: bool | None = None
    duration_ms: int | None = None

    def wire(self) -> dict[str, Any]:
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


class Delta(BaseModel):
    """A `delta` event: the next piece of the spoken answer; all of them join to `response`."""

    model_config = ConfigDict(frozen=True)

    kind: Literal["delta"] = Field("delta", exclude=True)
    text: str

    def wire(self) -> dict[str, Any]:
        return {"text": self.text}


class ErrorEvent(BaseModel):
    """An `error` event; a `done` event always follows it."""

    model_config = ConfigDict(frozen=True)

    kind: Literal["error"] = Field("error", exclude=True)
    code: str
    message: str
    retryable: bool = False

    def wire(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


class Done(BaseModel):
    """The one `done` event that ends every command."""

    model_config = ConfigDict(frozen=True)

    kind: Literal["done"] = Field("done", exclude=True)
    payload: DonePayload

    def wire(self) -> dict[str, Any]:
        return self.payload.wire()


Event = Progress | Delta | ErrorEvent | Done
