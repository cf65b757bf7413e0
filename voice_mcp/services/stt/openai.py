"""Speech to text through any OpenAI-compatible `/audio/transcriptions` endpoint."""

from __future__ import annotations

import asyncio
import logging

import openai

from voice_mcp.errors import TranscriptionFailed
from voice_mcp.services.llm.client import OPENAI_BASE_URL, api_key_for
from voice_mcp.services.llm.failures import FailureKind, classify
from voice_mcp.services.stt.audio_format import AudioFormat
from voice_mcp.settings import Settings

log = logging.getLogger(__name__)


def stt_base_url(settings: Settings) -> str:
    """The transcription server: its own setting, else the LLM's server, else OpenAI."""
    return settings.stt_base_url or settings.llm_base_url or OPENAI_BASE_URL


class Transcriber:
    """Turn one uploaded recording into text; one instance per app."""

    def __init__(self, settings: Settings) -> None:
        self.model = settings.stt_model
        self.timeout_s = settings.stt_timeout_s
        self.base_url = stt_base_url(settings)
        # Without a key only a self-hosted server can be used.
        self.configured = settings.openai_api_key is not None or self.base_url != OPENAI_BASE_URL
        self._client = openai.AsyncOpenAI(
            base_url=self.base_url,
            api_key=api_key_for(settings),
            timeout=settings.stt_timeout_s,
            max_retries=settings.llm_max_retries,
            http_client=openai.DefaultAioHttpClient(),  # as the LLM client: less CPU
        )

    async def transcribe(self, audio: bytes, fmt: AudioFormat, user_id: str = "") -> str:
        """Return the stripped transcript of `audio`, whose container `fmt` was sniffed."""
        if not self.configured:
            raise TranscriptionFailed(
                "Speech-to-text is not configured: set OPENAI_API_KEY or VOICE_MCP_STT_BASE_URL.",
                code="stt_not_configured",
                status=503,
            )
        try:
            # One budget for the call and the SDK's retries: a hung server ends here.
            async with asyncio.timeout(self.timeout_s):
                result = await self._client.audio.transcriptions.create(
                    file=(f"audio.{fmt.extension}", audio, fmt.mime), model=self.model
                )
        except TimeoutError as err:
            log.warning("transcription timed out after %g s", self.timeout_s)
            raise TranscriptionFailed(
                f"Transcription did not finish within {self.timeout_s:g} s.", retryable=True
            ) from err
        except openai.OpenAIError as err:
            raise _failed(err) from err
        return result.text.strip()

    async def close(self) -> None:
        """Close the connection pool."""
        await self._client.close()


def _failed(err: openai.OpenAIError) -> TranscriptionFailed:
    failure = classify(err)
    log.warning("transcription failed: %s", failure.summary())
    detail = f" ({failure.describe()})" if failure.describe() else ""
    if failure.kind is FailureKind.AUTH:
        return TranscriptionFailed(
            f"The speech-to-text provider refused the credentials{detail}; check OPENAI_API_KEY.",
            code="stt_auth_failed",
            retryable=False,
        )
    if failure.kind is FailureKind.REJECTED:
        return TranscriptionFailed(
            f"The speech-to-text server rejected the audio{detail}.", retryable=False
        )
    if failure.retryable:
        return TranscriptionFailed(
            f"The speech-to-text server is unavailable{detail}.",
            retryable=True,
            retry_after=failure.retry_after,
        )
    return TranscriptionFailed(
        f"The speech-to-text server sent an answer that could not be read{detail}.",
        retryable=False,
    )
