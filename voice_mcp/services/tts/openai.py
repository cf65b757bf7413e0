"""Speech from an OpenAI-compatible `/audio/speech` server, streamed through the openai SDK."""

from __future__ import annotations

from collections.abc import AsyncGenerator

import openai

from voice_mcp.errors import AppError
from voice_mcp.services.providers.errors import coded_error
from voice_mcp.services.providers.openai import Purpose, endpoint_for, make_client
from voice_mcp.services.tts.formats import SpeechFormat
from voice_mcp.settings import Settings

CHUNK_BYTES = 8192


class OpenAISpeech:
    """The speech server's audio, relayed as it arrives; one instance, one pool, per app."""

    def __init__(self, settings: Settings) -> None:
        self.endpoint = endpoint_for(settings, Purpose.SPEECH)
        self.voice = settings.tts_voice
        self._client = make_client(settings, Purpose.SPEECH)

    def refusal(self) -> AppError | None:
        return None

    async def stream(self, text: str, fmt: SpeechFormat) -> AsyncGenerator[bytes]:
        """Yield the server's audio as it arrives; leaving early closes the response."""
        try:
            async with self._client.audio.speech.with_streaming_response.create(
                model=self.endpoint.model, voice=self.voice, input=text,
                response_format=fmt.value
            ) as response:
                async for chunk in response.iter_bytes(CHUNK_BYTES):
                    yield chunk
        except openai.OpenAIError as err:
            raise coded_error(self.endpoint, err) from err

    async def close(self) -> None:
        """Close the connection pool."""
        await self._client.close()
