"""The command pipeline: stages as typed events, consumed by the SSE and the JSON endpoints."""

from voice_mcp.services.orchestrator.command import AudioInput, Command, Heard
from voice_mcp.services.orchestrator.events import (
    Delta,
    Done,
    ErrorEvent,
    Event,
    Progress,
    Stage,
)
from voice_mcp.services.orchestrator.orchestrator import Orchestrator
from voice_mcp.services.orchestrator.payload import DonePayload, Status

__all__ = ["AudioInput", "Command", "Delta", "Done", "DonePayload", "ErrorEvent", "Event",
           "Heard", "Orchestrator", "Progress", "Stage", "Status"]
