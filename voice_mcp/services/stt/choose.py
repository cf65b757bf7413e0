"""Pick the speech-to-text backend from `VOICE_MCP_STT`; the pipeline sees one interface."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from voice_mcp.errors import TranscriptionFailed
from voice_mcp.services.stt.audio_format import AudioFormat
from voice_mcp.services.stt.local import GrammarSource, LocalTranscriber
from voice_mcp.services.stt.openai import Transcriber
from voice_mcp.settings import Settings


class SpeechToText(Protocol):
    """What the transcribe stage calls, whichever recogniser runs. `hint`: words the speech
    is likely made of (an answer's options), for a recogniser that takes a prompt."""

    async def transcribe(self, audio: bytes, fmt: AudioFormat, user_id: str = "",
                         hint: str = "") -> str: ...

    async def close(self) -> None: ...


class NoSpeech:
    """`VOICE_MCP_STT=off`: recordings are refused with a clear error."""

    async def transcribe(self, audio: bytes, fmt: AudioFormat, user_id: str = "",
                         hint: str = "") -> str:
        raise TranscriptionFailed("Speech input is turned off (VOICE_MCP_STT=off).",
                                  code="stt_not_configured", status=503)

    async def close(self) -> None:
        return None


def stt_mode(settings: Settings) -> str:
    """The backend `auto` resolves to: a server when a key or STT URL is set, else local."""
    if settings.stt != "auto":
        return settings.stt
    remote = settings.openai_api_key is not None or settings.stt_base_url is not None
    return "openai" if remote else "local"


def make_speech_to_text(settings: Settings, grammar: GrammarSource,
                        accept: Callable[[str], bool]) -> SpeechToText:
    """The configured recogniser; `grammar` is only built when the local one first loads."""
    mode = stt_mode(settings)
    if mode == "openai":
        return Transcriber(settings)
    if mode == "local":
        return LocalTranscriber(grammar, accept, budget_s=settings.stt_timeout_s,
                                decoders=settings.stt_decoders,
                                per_user=settings.stt_recordings_per_user)
    return NoSpeech()
