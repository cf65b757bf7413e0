"""The audio formats speech can be asked for, and the media type each is sent as."""

from __future__ import annotations

from enum import StrEnum


class SpeechFormat(StrEnum):
    """The `format` of a speech request; the values are the wire names (and OpenAI's)."""

    WAV = "wav"
    MP3 = "mp3"
    OPUS = "opus"

    @property
    def media_type(self) -> str:
        """The Content-Type of the audio; opus comes in an Ogg container, as OpenAI sends it."""
        return {"wav": "audio/wav", "mp3": "audio/mpeg", "opus": "audio/ogg"}[self.value]
