"""Speech from an OpenAI-compatible `/audio/speech` server, streamed through the openai SDK."""

from __future__ import annotations

from collections.abc import AsyncGenerator

import openai

from voice_mcp.services.providers.errors import coded_error
from voice_mcp.services.providers.openai import Endpoint
from voice_mcp.services.tts.formats import SpeechFormat

CHUNK_BYTES = 8192


async def remote_speech(client: openai.AsyncOpenAI, text: str, fmt: SpeechFormat, *,
                        endpoint: Endpoint, voice: str) -> AsyncGenerator[bytes]:
    """Yield the server's audio as it arrives; leaving early closes the response."""
    try:
        async with client.audio.speech.with_streaming_response.create(
            model=endpoint.model, voice=voice, input=text, response_format=fmt.value
        ) as response:
            async for chunk in response.iter_bytes(CHUNK_BYTES):
                yield chunk
    except openai.OpenAIError as err:
        raise coded_error(endpoint, err) from err

