"""What a held command needs to carry on after its confirmation: a typed, versioned record.

Stored inside the pending confirmation (opaque to the store). Version 1 is the first
typed shape; records written before it (a plain dict without `version`) have the same
fields and are read as version 1. A record from a newer version fails closed.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class ResumeContext(BaseModel):
    """The conversation so far and where the command stood when it was held."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    version: Literal[1] = 1
    query: str = ""
    transcript: str | None = None
    messages: list[dict[str, Any]] = Field(default_factory=list)
    rounds: int = 0

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
