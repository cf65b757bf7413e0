"""OpenTelemetry traces of commands (docs/operations.md, "Traces"); off unless configured."""

from voice_mcp.services.tracing.spans import (
    STATE,
    Captured,
    CommandTrace,
    Traced,
    attached,
    begin_command,
    capture,
    carrier,
    detached,
    lap,
    llm_request,
    observe,
    running,
    speech,
    stages,
    tool_call,
)

__all__ = [
    "STATE",
    "Captured",
    "CommandTrace",
    "Traced",
    "attached",
    "begin_command",
    "capture",
    "carrier",
    "detached",
    "lap",
    "llm_request",
    "observe",
    "running",
    "speech",
    "stages",
    "tool_call",
]
