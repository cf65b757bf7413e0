"""Recognise an uploaded audio container from its first bytes, not from what the client declared."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final


@dataclass(frozen=True, slots=True)
class AudioFormat:
    """A container the transcription endpoint accepts: `extension` names the upload for it."""

    name: str
    extension: str
    mime: str


WAV: Final = AudioFormat("wav", "wav", "audio/wav")
MP3: Final = AudioFormat("mp3", "mp3", "audio/mpeg")
M4A: Final = AudioFormat("m4a", "m4a", "audio/mp4")
MP4: Final = AudioFormat("mp4", "mp4", "audio/mp4")
OGG: Final = AudioFormat("ogg", "ogg", "audio/ogg")
# Opus travels in Ogg; transcription endpoints know it by the `.ogg` extension.
OPUS: Final = AudioFormat("opus", "ogg", "audio/ogg")
WEBM: Final = AudioFormat("webm", "webm", "audio/webm")
FLAC: Final = AudioFormat("flac", "flac", "audio/flac")

FORMATS: Final = (WAV, MP3, M4A, MP4, OGG, OPUS, WEBM, FLAC)

# Enough bytes to tell every format apart, including an Ogg stream's first codec header.
SNIFF_BYTES: Final = 64

ACCEPTED_MIME_TYPES: Final = frozenset(
    {
        "audio/wav",
        "audio/wave",
        "audio/x-wav",
        "audio/vnd.wave",
        "audio/x-pn-wav",
        "audio/mpeg",
        "audio/mp3",
        "audio/mpeg3",
        "audio/x-mpeg",
        "audio/x-mpeg-3",
        "audio/mpga",
        "audio/mp4",
        "audio/m4a",
        "audio/x-m4a",
        "audio/aac",
        "audio/x-aac",
        "video/mp4",
        "audio/ogg",
        "audio/opus",
        "audio/vorbis",
        "application/ogg",
        "audio/webm",
        "video/webm",
        "audio/flac",
        "audio/x-flac",
    }
)

_MP4_AUDIO_BRANDS: Final = frozenset({b"M4A ", b"M4B ", b"M4P "})


def sniff(head: bytes) -> AudioFormat | None:
    """Name the container whose magic number starts `head` (pass at least SNIFF_BYTES bytes)."""
    if len(head) >= 12 and head[:4] in (b"RIFF", b"RIFX", b"RF64") and head[8:12] == b"WAVE":
        return WAV
    if head.startswith(b"fLaC"):
        return FLAC
    if head.startswith(b"OggS"):
        return OPUS if b"OpusHead" in head[:SNIFF_BYTES] else OGG
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return WEBM
    if len(head) >= 8 and head[4:8] == b"ftyp":
        return M4A if head[8:12] in _MP4_AUDIO_BRANDS else MP4
    if head.startswith(b"ID3"):
        return _after_id3(head)
    if _is_mpeg_audio_frame(head):
        return MP3
    return None


def _after_id3(head: bytes) -> AudioFormat:
    """An ID3 tag usually opens an MP3, but some encoders put one in front of FLAC."""
    if len(head) >= 10:
        size = (head[6] & 0x7F) << 21 | (head[7] & 0x7F) << 14 | (head[8] & 0x7F) << 7 | head[9]
        if head[10 + size : 14 + size] == b"fLaC":
            return FLAC
    return MP3


def _is_mpeg_audio_frame(head: bytes) -> bool:
    """Check an MPEG audio frame header: 11 sync bits, then no reserved version, layer or rates."""
    if len(head) < 4 or head[0] != 0xFF or head[1] & 0xE0 != 0xE0:
        return False
    version = (head[1] >> 3) & 0b11
    layer = (head[1] >> 1) & 0b11  # 0 is reserved here, and is what raw AAC (ADTS) uses
    bitrate = head[2] >> 4
    sample_rate = (head[2] >> 2) & 0b11
    return version != 0b01 and layer != 0b00 and bitrate != 0b1111 and sample_rate != 0b11


def media_type(content_type: str | None) -> str:
    """The bare, lower-case media type of a Content-Type header (parameters dropped)."""
    if not content_type:
        return ""
    return content_type.split(";", 1)[0].strip().lower()


def is_accepted_mime(content_type: str | None) -> bool:
    """True when a declared Content-Type names one of the accepted audio containers."""
    return media_type(content_type) in ACCEPTED_MIME_TYPES
