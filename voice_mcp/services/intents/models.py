"""The shape of `config/intents/<service>.yaml`, and what a match hands the pipeline."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator


class SlotArgument(BaseModel):
    """An argument filled from a slot (or a fixed `value`), through an optional converter."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    slot: str | None = None
    value: Any = None
    convert: str | None = None

    @model_validator(mode="after")
    def _one_source(self) -> SlotArgument:
        if (self.slot is None) == (self.value is None):
            raise ValueError("an argument takes exactly one of 'slot' or 'value'")
        return self


class SentenceBlock(BaseModel):
    """hassil's `data` entry: sentences, and slot values assumed when one matches."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    sentences: list[str] = Field(min_length=1)
    slots: dict[str, Any] = Field(default_factory=dict)


class IntentSpec(BaseModel):
    """One intent: its sentences, the tool it calls, its arguments, its spoken answer."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    tool: str = Field(min_length=1)
    data: list[SentenceBlock] = Field(min_length=1)
    arguments: dict[str, SlotArgument] = Field(default_factory=dict)
    response: str = Field(min_length=1)
    examples: list[str] = Field(default_factory=list)

    @model_validator(mode="before")
    @classmethod
    def _short_arguments(cls, data: Any) -> Any:
        """`timezone: "{place}"` is short for `{slot: place}`; any other scalar is fixed."""
        if isinstance(data, dict) and isinstance(data.get("arguments"), dict):
            data = dict(data)
            data["arguments"] = {k: _argument(v) for k, v in data["arguments"].items()}
        return data


def _argument(raw: Any) -> Any:
    if isinstance(raw, dict) and set(raw) <= {"slot", "value", "convert"}:
        return raw
    if isinstance(raw, str) and raw.startswith("{") and raw.endswith("}") and raw.count("{") == 1:
        return {"slot": raw[1:-1]}
    return {"value": raw}


class IntentFile(BaseModel):
    """A whole intents file; `lists` and `expansion_rules` are hassil's (plus `generator`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    language: str = "en"
    intents: dict[str, IntentSpec] = Field(min_length=1)
    lists: dict[str, dict[str, Any]] = Field(default_factory=dict)
    expansion_rules: dict[str, str] = Field(default_factory=dict)
    skip_words: list[str] = Field(default_factory=list)


@dataclass(frozen=True)
class Slot:
    """A matched slot: the value it carries and how to say it back."""

    value: Any
    text: str


@dataclass(frozen=True)
class LocalMatch:
    """A sentence template matched: the tool to call with these arguments, or why not."""

    service: str
    intent: str
    tool: str
    arguments: dict[str, Any]
    slots: dict[str, Slot] = field(default_factory=dict)
    problem: str | None = None  # set when a slot did not convert: the match must not run
