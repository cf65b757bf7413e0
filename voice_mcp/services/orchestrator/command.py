"""What is fixed for a command: the request and its user, and the request as text once heard."""

from __future__ import annotations

from dataclasses import dataclass

from voice_mcp.errors import AppError
from voice_mcp.services.stt.audio_format import AudioFormat


@dataclass(frozen=True)
class AudioInput:
    """A recording to transcribe before the command runs."""

    data: bytes
    format: AudioFormat


@dataclass(frozen=True)
class Heard:
    """Speech already recognised as it streamed (the listen socket): the transcript, or why
    there is none. The transcribe stage reports it as it reports an upload's."""

    transcript: str
    error: AppError | None = None


@dataclass(frozen=True)
class Command:
    """What the user asked, and on whose behalf."""

    user_id: str
    query: str
    conversation_id: str
    audio: AudioInput | Heard | None = None
    # A streamed (SSE) command: its LLM rounds are always streamed, for the `delta` events.
    # Answered as JSON, nobody reads deltas and VOICE_MCP_LLM_STREAM decides.
    stream_text: bool = True


@dataclass(frozen=True)
class Said:
    """The request as text: the typed query, or the recording's transcript (shown back)."""

    query: str
    transcript: str | None = None
