"""Request bodies of the voice API."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictStr, field_validator

from voice_mcp.services.tts import SpeechFormat

CONVERSATION_ID = r"^[A-Za-z0-9_.:-]{1,64}$"  # pydantic's regex: `$` is the very end
_CONVERSATION_ID = re.compile(CONVERSATION_ID)
CONFIRMATION_ID = r"^[A-Za-z0-9_-]{32}$"
# Not blank: one character that Python's str.strip() keeps. Spelled out (it is not ECMAScript's
# `\S`) so the published pattern and the server agree character for character.
NOT_BLANK = r"[^\t-\r\x1c- \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]"
_NOT_BLANK = re.compile(NOT_BLANK)


def not_blank(value: str) -> str:
    """`value` unchanged, or ValueError when it is only white space."""
    if _NOT_BLANK.search(value) is None:
        raise ValueError("must not be empty")
    return value


def is_conversation_id(value: str) -> bool:
    """True for an id a client may name a conversation with (query strings, form fields)."""
    # fullmatch: Python's `$` also matches before a final newline (`abc\n`).
    return _CONVERSATION_ID.fullmatch(value) is not None


class CommandRequest(BaseModel):
    """`POST /api/voice/llm[/stream]`."""

    model_config = ConfigDict(extra="ignore")

    query: StrictStr = Field(json_schema_extra={"minLength": 1, "pattern": NOT_BLANK})
    conversation_id: StrictStr | None = Field(None, alias="conversationId",
                                              pattern=CONVERSATION_ID)

    _not_blank = field_validator("query")(not_blank)


class ConfirmRequest(BaseModel):
    """`POST /api/voice/confirm`."""

    model_config = ConfigDict(extra="ignore")

    # The format is checked where the id is redeemed (400 invalid_confirmation_id).
    confirmation_id: StrictStr = Field(alias="confirmationId",
                                       json_schema_extra={"pattern": CONFIRMATION_ID})
    approved: StrictBool


class GrantRequest(BaseModel):
    """`POST /api/services/{id}/grant`: the handle the OAuth callback gave the browser."""

    model_config = ConfigDict(extra="ignore")

    grant: StrictStr = Field(min_length=1, max_length=128)


class SpeechRequest(BaseModel):
    """`POST /api/voice/speech`; the length limit is the synthesizer's (a setting)."""

    model_config = ConfigDict(extra="ignore")

    text: StrictStr = Field(json_schema_extra={"minLength": 1, "pattern": NOT_BLANK})
    format: SpeechFormat = SpeechFormat.WAV

    _not_blank = field_validator("text")(not_blank)


class ListenStart(BaseModel):
    """The listen socket's `start` message (docs/api.md, "Listen")."""

    model_config = ConfigDict(extra="ignore")

    type: Literal["start"]
    token: StrictStr | None = Field(None, max_length=8192)
    conversation_id: StrictStr | None = Field(None, alias="conversationId",
                                              pattern=CONVERSATION_ID)
    sample_rate: Literal[16000] = Field(alias="sampleRate")
    mode: Literal["push-to-talk", "vad"]
    # The `inputId` of a question the command running on the socket asked: this utterance
    # answers it (docs/api.md, "Listen").
    answer: StrictStr | None = Field(None, min_length=1, max_length=128)
