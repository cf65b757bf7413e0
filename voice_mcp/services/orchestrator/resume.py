"""What a held command needs to carry on after its confirmation: a typed, versioned record.

Stored inside the pending confirmation (opaque to the store). Version 1 is the first
typed shape; records written before it (a plain dict without `version`) have the same
fields and are read as version 1. A record from a newer version fails closed.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from voice_mcp.services.intents.models import LocalMatch, Slot


class LocalRecord(BaseModel):
    """A held template match: enough to answer with its response template after approval."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    service: str
    intent: str
    tool: str
    arguments: dict[str, Any]
    slots: dict[str, tuple[Any, str]] = Field(default_factory=dict)  # name -> (value, said)

    @classmethod
    def of(cls, match: LocalMatch) -> LocalRecord:
        return cls(service=match.service, intent=match.intent, tool=match.tool,
                   arguments=match.arguments,
                   slots={name: (slot.value, slot.text) for name, slot in match.slots.items()})

    def match(self) -> LocalMatch:
        """The match as it was when the command was held."""
        return LocalMatch(self.service, self.intent, self.tool, dict(self.arguments),
                          {name: Slot(value, said) for name, (value, said) in self.slots.items()})


class ResumeContext(BaseModel):
    """The conversation so far and where the command stood when it was held."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    version: Literal[1] = 1
    query: str = ""
    transcript: str | None = None
    messages: list[dict[str, Any]] = Field(default_factory=list)
    rounds: int = 0
    local: LocalRecord | None = None  # set: a template chose the actions, no LLM follows

    @model_validator(mode="before")
    @classmethod
    def _upgrade(cls, data: Any) -> Any:
        """Read a pre-versioned record (a dict without `version`) as version 1."""
        if isinstance(data, dict) and "version" not in data:
            return {**data, "version": 1}
        return data

    def dump(self) -> dict[str, Any]:
        """The record as stored in the confirmation."""
        return self.model_dump(mode="json")
