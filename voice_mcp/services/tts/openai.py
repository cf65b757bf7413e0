"""Speech from an OpenAI-compatible `/audio/speech` server, streamed through the openai SDK."""

from __future__ import annotations

import logging
from collections.abc import AsyncGenerator

import openai

from voice_mcp.errors import SpeechFailed
from voice_mcp.services.llm.failures import FailureKind, classify
from voice_mcp.services.tts.formats import SpeechFormat

log = logging.getLogger(__name__)
CHUNK_BYTES = 8192


async def remote_speech(client: openai.AsyncOpenAI, text: str, fmt: SpeechFormat, *,
                        model: str, voice: str) -> AsyncGenerator[bytes]:
    """Yield the server's audio as it arrives; leaving early closes the response."""
    try:
        async with client.audio.speech.with_streaming_response.create(
            model=model, voice=voice, input=text, response_format=fmt.value
        ) as response:
            async for chunk in response.iter_bytes(CHUNK_BYTES):
                yield chunk
    except openai.OpenAIError as err:
        raise _failed(err) from err


def _failed(err: openai.OpenAIError) -> SpeechFailed:
    """Our own words only: provider messages can echo part of a key."""
    failure = classify(err)
    log.warning("speech synthesis failed: %s", failure.summary())
    detail = f" ({failure.describe()})" if failure.describe() else ""
    if failure.kind is FailureKind.AUTH:
        return SpeechFailed(
            f"The speech provider refused the credentials{detail}; check OPENAI_API_KEY.",
            code="tts_auth_failed", retryable=False)
    if failure.kind is FailureKind.REJECTED:
        return SpeechFailed(
            f"The speech server rejected the request{detail}; check VOICE_MCP_TTS_MODEL and "
            "VOICE_MCP_TTS_VOICE.", retryable=False)
    return SpeechFailed(f"The speech server failed{detail}.", retryable=failure.retryable)
