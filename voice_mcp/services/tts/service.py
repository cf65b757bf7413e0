"""Choose the speech engine per VOICE_MCP_TTS and hand out audio streams that already started."""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator
from typing import Literal

import openai

from voice_mcp.errors import BadRequest, ServiceUnavailable
from voice_mcp.services import tracing
from voice_mcp.services.llm.client import OPENAI_BASE_URL, api_key_for
from voice_mcp.services.tts.formats import SpeechFormat
from voice_mcp.services.tts.local import local_speech
from voice_mcp.services.tts.openai import remote_speech
from voice_mcp.settings import Settings

Mode = Literal["openai", "local", "off"]


def tts_mode(settings: Settings) -> Mode:
    """`auto` means the OpenAI-compatible server when a key or a TTS URL is set, else local."""
    if settings.tts != "auto":
        return settings.tts
    configured = settings.openai_api_key is not None or settings.tts_base_url is not None
    return "openai" if configured else "local"


class SpeechStream:
    """Audio whose first chunk is already made: failures surface before any header is sent."""

    def __init__(self, media_type: str, first: bytes, rest: AsyncGenerator[bytes]) -> None:
        self.media_type = media_type
        self._first: bytes | None = first
        self._rest = rest

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self._chunks()

    async def _chunks(self) -> AsyncIterator[bytes]:
        if self._first is not None:
            first, self._first = self._first, None
            yield first
        async for chunk in self._rest:
            yield chunk

    async def aclose(self) -> None:
        """Stop the synthesis (kills espeak-ng / closes the HTTP response)."""
        await self._rest.aclose()


class Synthesizer:
    """Turn text into streamed audio; one instance per app."""

    def __init__(self, settings: Settings) -> None:
        self.mode: Mode = tts_mode(settings)
        self.max_chars = settings.tts_max_chars
        self.timeout_s = settings.tts_timeout_s
        self.model = settings.tts_model
        self.voice = settings.tts_voice
        self._client: openai.AsyncOpenAI | None = None
        if self.mode == "openai":
            self._client = openai.AsyncOpenAI(
                base_url=settings.tts_base_url or settings.llm_base_url or OPENAI_BASE_URL,
                api_key=api_key_for(settings), timeout=settings.tts_timeout_s,
                max_retries=settings.llm_max_retries, http_client=openai.DefaultAioHttpClient())

    def check(self, text: str) -> str:
        """The text to speak, stripped; 400 when empty or too long, 503 when speech is off."""
        if self.mode == "off":
            raise ServiceUnavailable("Speech output is turned off (VOICE_MCP_TTS=off).",
                                     code="tts_disabled", retryable=False)
        text = text.strip()
        if not text:
            raise BadRequest("text: must not be empty.", code="invalid_body")
        if len(text) > self.max_chars:
            raise BadRequest(f"text: longer than {self.max_chars} characters.",
                             code="text_too_long")
        return text

    async def open(self, text: str, fmt: SpeechFormat) -> SpeechStream:
        """Start synthesis as a span (docs/operations.md, "Traces"): up to the first chunk."""
        with tracing.speech("text_to_speech", self.mode, chars=len(text), format=fmt.value):
            return await self._open(text, fmt)

    async def _open(self, text: str, fmt: SpeechFormat) -> SpeechStream:
        """Start synthesis and wait for its first chunk, so errors come before the audio."""
        text = self.check(text)
        if self._client is not None:
            chunks = remote_speech(self._client, text, fmt, model=self.model, voice=self.voice)
        else:
            chunks = local_speech(text, fmt, self.timeout_s)
        try:
            first = await anext(chunks)
        except StopAsyncIteration:
            first = b""
        except BaseException:
            await chunks.aclose()
            raise
        return SpeechStream(fmt.media_type, first, chunks)

    async def close(self) -> None:
        """Close the connection pool."""
        if self._client is not None:
            await self._client.close()
