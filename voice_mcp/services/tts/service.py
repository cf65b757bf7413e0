"""Check the text, start the chosen engine and hand out audio streams that already started."""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator

from voice_mcp.errors import BadRequest
from voice_mcp.services import tracing
from voice_mcp.services.tts.choose import TextToSpeech, make_text_to_speech
from voice_mcp.services.tts.formats import SpeechFormat
from voice_mcp.settings import Settings


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
    """Turn text into streamed audio with one engine; one instance per app."""

    def __init__(self, engine: TextToSpeech, *, max_chars: int) -> None:
        self.engine = engine
        self.max_chars = max_chars

    @classmethod
    def from_settings(cls, settings: Settings) -> Synthesizer:
        """The engine `VOICE_MCP_TTS` chooses, with the configured text limit."""
        return cls(make_text_to_speech(settings), max_chars=settings.tts_max_chars)

    def check(self, text: str) -> str:
        """The text to speak, stripped; 400 when empty or too long, 503 when speech is off."""
        refused = self.engine.refusal()
        if refused is not None:
            raise refused
        text = text.strip()
        if not text:
            raise BadRequest("text: must not be empty.", code="invalid_body")
        if len(text) > self.max_chars:
            raise BadRequest(f"text: longer than {self.max_chars} characters.",
                             code="text_too_long")
        return text

    async def open(self, text: str, fmt: SpeechFormat) -> SpeechStream:
        """Start synthesis as a span (docs/operations.md, "Traces"): up to the first chunk."""
        with tracing.speech("text_to_speech", type(self.engine).__name__, chars=len(text),
                            format=fmt.value):
            return await self._open(text, fmt)

    async def _open(self, text: str, fmt: SpeechFormat) -> SpeechStream:
        """Start synthesis and wait for its first chunk, so errors come before the audio."""
        chunks = self.engine.stream(self.check(text), fmt)
        try:
            first = await anext(chunks)
        except StopAsyncIteration:
            first = b""
        except BaseException:
            await chunks.aclose()
            raise
        return SpeechStream(fmt.media_type, first, chunks)

    async def close(self) -> None:
        """Close the engine's connections."""
        await self.engine.close()
