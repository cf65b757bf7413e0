"""What the command registry hands out: events with their sequence number, and a status view."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from voice_mcp.services.orchestrator.payload import DonePayload, ErrorView, Status

RUNNING = "running"
INSTANCE_LOST = "instance_lost"
LOST_MESSAGE = "The server running this command stopped; it may or may not have finished."
CANCELLED_MESSAGE = "Cancelled."


@dataclass(frozen=True)
class CommandEvent:
    """One event of a command: its own sequence number (the SSE id), its kind, its data."""

    seq: int
    kind: str
    data: dict[str, Any]

    def json(self) -> str:
        return json.dumps(self.data, separators=(",", ":"))


@dataclass(frozen=True)
class CommandInfo:
    """Who a command belongs to and what it was, enough to end it without its orchestrator."""

    user_id: str
    query: str
    conversation_id: str
    continues: Mapping[str, str] | None = None  # the trace context this command continues


@dataclass(frozen=True)
class CommandView:
    """`GET /api/voice/commands/{id}`: running, or how it ended."""

    command_id: str
    status: str
    done: dict[str, Any] | None

    def wire(self) -> dict[str, Any]:
        return {"commandId": self.command_id, "status": self.status, "done": self.done}


def ended_payload(info: CommandInfo, command_id: str, status: Status, message: str,
                  error: ErrorView | None = None, elapsed_ms: int = 0) -> dict[str, Any]:
    """A done payload for a command that ended from outside its run (cancel, lost owner)."""
    payload = DonePayload(success=False, status=status, query=info.query,
                          conversation_id=info.conversation_id, response=message, error=error,
                          total_execution_time=elapsed_ms).wire()
    payload["commandId"] = command_id
    return payload


def lost_events(info: CommandInfo, command_id: str) -> tuple[str, str]:
    """The error and done data a reader writes when the owner died (JSON, made up front)."""
    error = ErrorView(code=INSTANCE_LOST, message=LOST_MESSAGE, retryable=True)
    done = ended_payload(info, command_id, Status.FAILED, LOST_MESSAGE, error)
    return (json.dumps(error.model_dump(mode="json"), separators=(",", ":")),
            json.dumps(done, separators=(",", ":")))
