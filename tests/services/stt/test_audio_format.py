"""Sniffing the audio container from its first bytes."""

from __future__ import annotations

import pytest

from tests.audio import SpeechSamples
from voice_mcp.services.stt.audio_format import (
    FLAC,
    FORMATS,
    M4A,
    MP3,
    MP4,
    OGG,
    OPUS,
    SNIFF_BYTES,
    WAV,
    WEBM,
    AudioFormat,
    is_accepted_mime,
    sniff,
)

# What OpenAI's /audio/transcriptions accepts, by file extension.
OPENAI_EXTENSIONS = {"flac", "mp3", "mp4", "mpeg", "mpga", "m4a", "ogg", "wav", "webm"}


@pytest.mark.parametrize(
    ("fmt", "expected"),
    [
        ("wav", WAV),
        ("flac", FLAC),
        ("ogg", OGG),
        ("mp3", MP3),
        ("opus", OPUS),
        ("webm", WEBM),
        ("m4a", M4A),
    ],
)
def test_real_speech_files(speech_samples: SpeechSamples, fmt: str, expected: AudioFormat):
    audio = speech_samples.read(fmt)

    assert sniff(audio[:SNIFF_BYTES]) == expected
    assert sniff(audio) == expected


def id3(size: int) -> bytes:
    syncsafe = bytes([(size >> 21) & 0x7F, (size >> 14) & 0x7F, (size >> 7) & 0x7F, size & 0x7F])
    return b"ID3\x04\x00\x00" + syncsafe + b"\x00" * size


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (b"RIFF\x24\x08\x00\x00WAVEfmt ", WAV),
        (b"RF64\xff\xff\xff\xffWAVEds64", WAV),
        (b"fLaC\x00\x00\x00\x22", FLAC),
        (b"OggS\x00\x02" + b"\x00" * 22 + b"\x01\x13OpusHead\x01\x01", OPUS),
        (b"OggS\x00\x02" + b"\x00" * 22 + b"\x01\x1e\x01vorbis", OGG),
        (b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01\x42\x82\x84webm", WEBM),
        (b"\x00\x00\x00\x20ftypM4A \x00\x00\x00\x00isom", M4A),
        (b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00", MP4),
        (b"\x00\x00\x00\x1cftypmp42\x00\x00\x00\x00", MP4),
        (id3(20) + b"\xff\xfb\x90\x64", MP3),
        (b"ID3\x03\x00", MP3),  # too short to see past the tag: an ID3 tag means MP3
        (id3(4) + b"fLaC\x00\x00\x00\x22", FLAC),
        (b"\xff\xfb\x90\x64\x00\x00", MP3),  # MPEG-1 layer III
        (b"\xff\xf3\x40\xc4\x00\x12", MP3),  # MPEG-2 layer III, as sox writes it
        (b"\xff\xe3\x18\xc4", MP3),  # MPEG-2.5
    ],
    ids=[
        "wav",
        "rf64",
        "flac",
        "opus",
        "vorbis",
        "webm",
        "m4a",
        "mp4-isom",
        "mp4-mp42",
        "id3-mp3",
        "id3-short",
        "id3-flac",
        "mpeg1",
        "mpeg2",
        "mpeg25",
    ],
)
def test_magic_numbers(head: bytes, expected: AudioFormat):
    assert sniff(head) == expected


@pytest.mark.parametrize(
    "head",
    [
        b"",
        b"RIF",
        b"hello, this is definitely not audio",
        b"RIFF\x24\x08\x00\x00AVI LIST",  # a RIFF file that is not WAVE
        b"\xff\xf1\x50\x80\x02\x1f\xfc",  # raw AAC (ADTS): layer bits 00
        b"\xff\xff\xff\xff",  # reserved version and layer bits
        b"\xff\xfb\xf0\x00",  # "bad" bitrate index 1111
        b"\x89PNG\r\n\x1a\n",
        b"%PDF-1.7",
        b'{"query": "what time is it"}',
    ],
    ids=["empty", "short", "text", "avi", "adts", "all-ones", "bad-bitrate", "png", "pdf", "json"],
)
def test_non_audio_is_not_recognised(head: bytes):
    assert sniff(head) is None


def test_the_bytes_win_over_the_declared_type(speech_samples: SpeechSamples):
    mp3 = speech_samples.read("mp3")
    text = b"I am text pretending to be audio"

    # An MP3 declared as WAV is still an MP3; text declared as audio is still not audio.
    assert is_accepted_mime("audio/wav") and sniff(mp3[:SNIFF_BYTES]) == MP3
    assert is_accepted_mime("audio/mpeg") and sniff(text) is None


@pytest.mark.parametrize(
    ("content_type", "accepted"),
    [
        ("audio/wav", True),
        ("audio/x-wav", True),
        ("Audio/WebM; codecs=opus", True),
        ("audio/ogg;codecs=opus", True),
        ("audio/mpeg", True),
        ("audio/mp4", True),
        ("audio/x-m4a", True),
        ("audio/flac", True),
        ("video/webm", True),
        ("audio/aiff", False),
        ("audio/basic", False),
        ("text/plain", False),
        ("application/octet-stream", False),
        ("", False),
        (None, False),
    ],
)
def test_accepted_declared_types(content_type: str | None, accepted: bool):
    assert is_accepted_mime(content_type) is accepted


def test_every_format_uploads_under_an_extension_openai_knows():
    for fmt in FORMATS:
        assert fmt.extension in OPENAI_EXTENSIONS, fmt
        assert is_accepted_mime(fmt.mime), fmt
