"""Speech to text through any OpenAI-compatible `/audio/transcriptions` endpoint."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import openai

from voice_mcp.errors import TranscriptionFailed
from voice_mcp.services.providers.errors import coded_error
from voice_mcp.services.providers.openai import (
    OPENAI_BASE_URL,
    Purpose,
    base_url_for,
    endpoint_for,
    make_client,
)
from voice_mcp.services.stt.audio_format import AudioFormat
from voice_mcp.services.stt.realtime import MAX_EVENT_BYTES
from voice_mcp.settings import Settings

log = logging.getLogger(__name__)


def stt_base_url(settings: Settings) -> str:
    """The transcription server: its own setting, else the LLM's server, else OpenAI."""
    return base_url_for(settings, Purpose.TRANSCRIPTION)


class Transcriber:
    """Turn one uploaded recording into text; one instance per app."""

    def __init__(self, settings: Settings) -> None:
        self.endpoint = endpoint_for(settings, Purpose.TRANSCRIPTION)
        self.model = self.endpoint.model
        self.timeout_s = self.endpoint.timeout_s
        self.base_url = self.endpoint.base_url
        # Without a key only a self-hosted server can be used.
        self.configured = settings.openai_api_key is not None or self.base_url != OPENAI_BASE_URL
        self._client = make_client(settings, Purpose.TRANSCRIPTION)
        self._realtime = settings.stt_realtime

    async def transcribe(self, audio: bytes, fmt: AudioFormat, user_id: str = "",
                         hint: str = "") -> str:
        """Return the stripped transcript of `audio`, whose container `fmt` was sniffed;
        `hint` goes as the transcription `prompt` (the words an answer is made of)."""
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
                    file=(f"audio.{fmt.extension}", audio, fmt.mime), model=self.model,
                    prompt=hint or openai.omit)
        except TimeoutError as err:
            log.warning("transcription timed out after %g s", self.timeout_s)
            raise TranscriptionFailed(
                f"Transcription did not finish within {self.timeout_s:g} s.", retryable=True
            ) from err
        except openai.OpenAIError as err:
            raise coded_error(self.endpoint, err) from err
        return result.text.strip()

    @property
    def streams(self) -> bool:
        """Whether the listen socket streams to a Realtime session (`VOICE_MCP_STT_REALTIME`:
        `auto` is on for OpenAI's own server, which has one; other servers opt in)."""
        if self._realtime == "auto":
            return self.base_url == OPENAI_BASE_URL
        return self._realtime == "on"

    async def realtime_session(self) -> Any:
        """A new Realtime transcription session on the configured server (stt/realtime.py)."""
        manager = self._client.realtime.connect(
            extra_query={"intent": "transcription"},
            websocket_connection_options={"max_size": MAX_EVENT_BYTES})
        return await manager.enter()

    async def close(self) -> None:
        """Close the connection pool."""
        await self._client.close()

