"""A question a service asks the user, as it is shown, stored and answered."""

from __future__ import annotations

import secrets
import time
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import mcp.types as types
from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel

from voice_mcp.errors import AppError
from voice_mcp.services.asking.fields import form_fields, problems, with_defaults
from voice_mcp.services.asking.words import action_of, map_words

Action = Literal["accept", "decline", "cancel"]


class Unanswered(AppError):
    """422: the answer leaves fields missing or invalid; the question stays open."""

    status = 422


@dataclass(frozen=True)
class Reply:
    """The user's answer, checked: what the server gets."""

    action: Action
    content: dict[str, Any] | None = None

    def result(self) -> types.ElicitResult:
        return types.ElicitResult(action=self.action, content=self.content)


@dataclass(frozen=True)
class Question:
    """One open question of one command (`input_required`, docs/api.md)."""

    input_id: str
    service: str
    tool: str
    mode: Literal["form", "url"]
    message: str
    expires_at: int
    schema: dict[str, Any] = field(default_factory=dict)
    fields: list[dict[str, Any]] = field(default_factory=list)
    url: str | None = None
    elicitation_id: str | None = None

    @classmethod
    def of(cls, params: types.ElicitRequestParams, *, service: str, title: str, tool: str,
           timeout_s: float) -> Question:
        """The SDK's request as a question naming who asks."""
        expires = int((time.time() + timeout_s) * 1000)
        common = {"input_id": "in_" + secrets.token_urlsafe(12), "service": service,
                  "tool": tool, "message": f"{title} asks: {params.message}",
                  "expires_at": expires}
        if isinstance(params, types.ElicitRequestURLParams):
            return cls(mode="url", url=params.url, elicitation_id=params.elicitation_id,
                       **common)  # type: ignore[arg-type]
        schema = dict(params.requested_schema)
        return cls(mode="form", schema=schema, fields=form_fields(schema),
                   **common)  # type: ignore[arg-type]

    def wire(self) -> dict[str, Any]:
        """The `input` object of the event and of the early JSON answer."""
        shown: dict[str, Any] = {"inputId": self.input_id, "service": self.service,
                                 "tool": self.tool, "mode": self.mode,
                                 "message": self.message, "expiresAt": self.expires_at}
        if self.mode == "url":
            shown["url"] = self.url
        else:
            shown["fields"] = self.fields
        return shown

    def stored(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def load(cls, data: dict[str, Any]) -> Question:
        return cls(**data)

    def reply(self, answer: AnswerBody) -> Reply:
        """Check an answer (structured or words) against the question; 422 when it falls short."""
        action = answer.action
        if action is None and answer.answer is None:
            raise Unanswered("Give an action or an answer.", code="input_invalid")
        if answer.answer is not None:
            action = action_of(answer.answer, self.fields) or "accept"  # type: ignore[assignment]
        if action != "accept" or self.mode == "url":
            return Reply(action or "accept")
        content = answer.content
        if answer.answer is not None:
            content = map_words(answer.answer, self.fields)
        filled = with_defaults(self.fields, content or {})
        found = problems(self.schema, filled)
        if found:
            named = "; ".join(f"{n or 'content'}: {why}" for n, why in sorted(found.items()))
            raise Unanswered(f"Missing or invalid: {named}.", code="input_invalid")
        return Reply("accept", filled)


class AnswerBody(BaseModel):
    """`POST /api/voice/commands/{commandId}/input`: structured content or the user's words."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")

    input_id: str
    action: Action | None = None
    content: dict[str, Any] | None = None
    answer: str | None = None
