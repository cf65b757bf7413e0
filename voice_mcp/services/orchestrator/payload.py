"""The done payload (docs/api.md, "Done payload") and its parts."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from voice_mcp.services.mcp.models import ToolCallResult


class Status(StrEnum):
    COMPLETED = "completed"
    CONFIRMATION_REQUIRED = "confirmation_required"
    CLARIFICATION_NEEDED = "clarification_needed"
    FAILED = "failed"
    CANCELLED = "cancelled"
    TIMEOUT = "timeout"


class _Camel(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)


class ResultView(_Camel):
    """One executed tool call as clients see it."""

    service: str
    tool: str
    arguments: dict[str, Any]
    success: bool
    output: str
    error: str | None
    duration_ms: int

    @classmethod
    def of(cls, result: ToolCallResult) -> ResultView:
        return cls(service=result.service, tool=result.tool, arguments=result.arguments,
                   success=result.success, output=result.output, error=result.error,
                   duration_ms=result.duration_ms)


class ActionView(_Camel):
    """A held action awaiting approval."""

    service: str
    tool: str
    arguments: dict[str, Any]
    risk: str
    reason: str


class ConfirmationView(_Camel):
    confirmation_id: str
    expires_at: int
    actions: list[ActionView]


class ClarificationView(_Camel):
    question: str


class ErrorView(_Camel):
    code: str
    message: str
    retryable: bool = False


class DonePayload(_Camel):
    """What every command ends with, over SSE or as the JSON answer."""

    success: bool
    status: Status
    query: str
    transcript: str | None = None
    conversation_id: str
    response: str
    results: list[ResultView] = Field(default_factory=list)
    confirmation: ConfirmationView | None = None
    clarification: ClarificationView | None = None
    error: ErrorView | None = None
    unavailable: dict[str, str] = Field(default_factory=dict)
    processed_locally: bool = False
    continue_conversation: bool = False
    total_execution_time: int
    timings: dict[str, int] = Field(default_factory=dict)

    def wire(self) -> dict[str, Any]:
        return self.model_dump(mode="json", by_alias=True)
