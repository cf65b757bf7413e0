"""What the MCP layer hands the rest of the app: tools, discovery results and call results."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class ToolHints(BaseModel):
    """The MCP tool annotations that matter for risk (None: the server did not say)."""

    model_config = ConfigDict(frozen=True)

    read_only: bool | None = None
    destructive: bool | None = None
    idempotent: bool | None = None
    open_world: bool | None = None


class ToolInfo(BaseModel):
    """One tool of one service, as discovered (and cached in Redis as JSON)."""

    model_config = ConfigDict(frozen=True)

    service: str
    name: str
    title: str | None = None
    description: str = ""
    input_schema: dict[str, Any] = Field(default_factory=lambda: {"type": "object"})
    output_schema: dict[str, Any] | None = None  # set: results carry structured content
    hints: ToolHints = Field(default_factory=ToolHints)

    @property
    def qualified_name(self) -> str:
        """`service.tool`, the name shown to users and in events."""
        return f"{self.service}.{self.name}"


class DiscoveryResult(BaseModel):
    """The tools of every usable service, and why the others could not be listed."""

    tools: list[ToolInfo] = Field(default_factory=list)
    unavailable: dict[str, str] = Field(default_factory=dict)  # service id -> short reason

    @property
    def service_count(self) -> int:
        return len({t.service for t in self.tools})


class ToolCallResult(BaseModel):
    """The outcome of one tool call; failures are data, not exceptions."""

    service: str
    tool: str
    arguments: dict[str, Any] = Field(default_factory=dict)
    success: bool
    output: str = ""
    structured: Any = None
    error: str | None = None
    duration_ms: int = 0
