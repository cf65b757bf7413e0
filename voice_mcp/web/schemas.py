"""Request bodies of the voice API."""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictStr, field_validator

from voice_mcp.services.tts import SpeechFormat

CONVERSATION_ID = r"^[A-Za-z0-9_.:-]{1,64}$"  # pydantic's regex: `$` is the very end
_CONVERSATION_ID = re.compile(CONVERSATION_ID)


def is_conversation_id(value: str) -> bool:
    """True for an id a client may name a conversation with (query strings, form fields)."""
    # fullmatch: Python's `$` also matches before a final newline (`abc\n`).
    return _CONVERSATION_ID.fullmatch(value) is not None


class CommandRequest(BaseModel):
    """`POST /api/voice/llm[/stream]`."""

    model_config = ConfigDict(extra="ignore")

    query: StrictStr
    conversation_id: StrictStr | None = Field(None, alias="conversationId",
                                              pattern=CONVERSATION_ID)

    @field_validator("query")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        value = value.strip()
        if not value:
            raise ValueError("must not be empty")
        return value


class ConfirmRequest(BaseModel):
    """`POST /api/voice/confirm`."""

    model_config = ConfigDict(extra="ignore")

    confirmation_id: StrictStr = Field(alias="confirmationId", min_length=1, max_length=128)
    approved: StrictBool


class GrantRequest(BaseModel):
    """`POST /api/services/{id}/grant`: the handle the OAuth callback gave the browser."""

    model_config = ConfigDict(extra="ignore")

    grant: StrictStr = Field(min_length=1, max_length=128)


class SpeechRequest(BaseModel):
    """`POST /api/voice/speech`; the length limit is the synthesizer's (a setting)."""

    model_config = ConfigDict(extra="ignore")

    text: StrictStr
    format: SpeechFormat = SpeechFormat.WAV
