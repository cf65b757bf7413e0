"""One table from a classified SDK failure to our coded error, per purpose.

Only our own words, the status and a short provider code reach a message: provider error
text can echo part of a key.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Final

import openai

from voice_mcp.errors import AppError, LLMUnavailable, SpeechFailed, TranscriptionFailed
from voice_mcp.services.providers.failures import Failure, FailureKind, classify
from voice_mcp.services.providers.openai import Endpoint, Purpose

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Wording:
    """How one purpose names its failures: the error type, the auth code, one line per kind.

    A line may use `{detail}` (e.g. ` (HTTP 500)`), `{timeout_s}`, `{origin}` and `{model}`.
    """

    error: type[AppError]
    auth_code: str
    log_label: str
    lines: dict[FailureKind, str] = field(default_factory=dict)


def _unavailable(text: str) -> dict[FailureKind, str]:
    """The same line for every kind worth retrying."""
    retryable = (FailureKind.RATE_LIMITED, FailureKind.SERVER, FailureKind.TIMEOUT,
                 FailureKind.CONNECTION)
    return dict.fromkeys(retryable, text)


WORDING: Final[dict[Purpose, Wording]] = {
    Purpose.CHAT: Wording(LLMUnavailable, "llm_auth_failed", "llm request", {
        FailureKind.AUTH: "The LLM provider refused the credentials{detail}; check OPENAI_API_KEY.",
        FailureKind.RATE_LIMITED: "The LLM provider is rate limiting requests{detail}.",
        FailureKind.SERVER: "The LLM server failed{detail}.",
        FailureKind.TIMEOUT: "The LLM did not answer within {timeout_s:g} s.",
        FailureKind.CONNECTION: "The LLM server at {origin} could not be reached.",
        FailureKind.REJECTED: ("The LLM server rejected the request{detail}; "
                               "check VOICE_MCP_LLM_MODEL (now {model})."),
        FailureKind.BAD_RESPONSE: "The LLM server sent an unreadable answer{detail}.",
    }),
    Purpose.TRANSCRIPTION: Wording(TranscriptionFailed, "stt_auth_failed", "transcription", {
        FailureKind.AUTH: ("The speech-to-text provider refused the credentials{detail}; "
                           "check OPENAI_API_KEY."),
        FailureKind.REJECTED: "The speech-to-text server rejected the audio{detail}.",
        **_unavailable("The speech-to-text server is unavailable{detail}."),
        FailureKind.BAD_RESPONSE: ("The speech-to-text server sent an answer that could not "
                                   "be read{detail}."),
    }),
    Purpose.SPEECH: Wording(SpeechFailed, "tts_auth_failed", "speech synthesis", {
        FailureKind.AUTH: ("The speech provider refused the credentials{detail}; "
                           "check OPENAI_API_KEY."),
        FailureKind.REJECTED: ("The speech server rejected the request{detail}; check "
                               "VOICE_MCP_TTS_MODEL and VOICE_MCP_TTS_VOICE."),
        **_unavailable("The speech server failed{detail}."),
        FailureKind.BAD_RESPONSE: "The speech server failed{detail}.",
    }),
}


def coded_error(endpoint: Endpoint, failure: Failure | openai.OpenAIError) -> AppError:
    """The coded error for a failed request to `endpoint`, logged once without provider text."""
    if isinstance(failure, openai.OpenAIError):
        failure = classify(failure)
    wording = WORDING[endpoint.purpose]
    log.warning("%s failed: %s", wording.log_label, failure.summary())
    detail = f" ({failure.describe()})" if failure.describe() else ""
    message = wording.lines[failure.kind].format(
        detail=detail, timeout_s=endpoint.timeout_s, origin=endpoint.origin,
        model=endpoint.model)
    code = wording.auth_code if failure.kind is FailureKind.AUTH else None
    retry_after = failure.retry_after if failure.retryable else None
    return wording.error(message, code=code, retryable=failure.retryable,
                         retry_after=retry_after)
