"""Pick the speech engine from `VOICE_MCP_TTS`; the speech route sees one interface."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import Literal, Protocol

from voice_mcp.errors import AppError, ServiceUnavailable
from voice_mcp.services.tts.formats import SpeechFormat
from voice_mcp.services.tts.local import LocalSpeech
from voice_mcp.services.tts.openai import OpenAISpeech
from voice_mcp.settings import Settings

Mode = Literal["openai", "local", "off"]


class TextToSpeech(Protocol):
    """What the speech service calls, whichever engine speaks."""

    def refusal(self) -> AppError | None:
        """Why this engine takes no text at all, checked before the text is; else None."""
        ...

    def stream(self, text: str, fmt: SpeechFormat) -> AsyncGenerator[bytes]:
        """The audio of `text` chunk by chunk; closing the generator stops the synthesis."""
        ...

    async def close(self) -> None: ...


class NoSpeech:
    """`VOICE_MCP_TTS=off`: every request is refused with a clear error."""

    def refusal(self) -> AppError | None:
        return _off()

    def stream(self, text: str, fmt: SpeechFormat) -> AsyncGenerator[bytes]:
        raise _off()

    async def close(self) -> None:
        return None


def _off() -> ServiceUnavailable:
    return ServiceUnavailable("Speech output is turned off (VOICE_MCP_TTS=off).",
                              code="tts_disabled", retryable=False)


def tts_mode(settings: Settings) -> Mode:
    """`auto` means the OpenAI-compatible server when a key or a TTS URL is set, else local."""
    if settings.tts != "auto":
        return settings.tts
    configured = settings.openai_api_key is not None or settings.tts_base_url is not None
    return "openai" if configured else "local"


def make_text_to_speech(settings: Settings) -> TextToSpeech:
    """The configured speech engine."""
    mode = tts_mode(settings)
    if mode == "openai":
        return OpenAISpeech(settings)
    if mode == "local":
        return LocalSpeech(settings.tts_timeout_s)
    return NoSpeech()
