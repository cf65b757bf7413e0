"""The Transcriber against the fake OpenAI server, with real recorded speech."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from tests.audio import SpeechSamples
from tests.fakes.openai_server import OpenAIServer
from tests.fixtures.openai_server import TEST_API_KEY, settings_for
from voice_mcp.errors import TranscriptionFailed
from voice_mcp.services.providers.openai import OPENAI_BASE_URL
from voice_mcp.services.stt.audio_format import SNIFF_BYTES, WAV, sniff
from voice_mcp.services.stt.openai import Transcriber, stt_base_url

MakeTranscriber = Callable[..., Transcriber]


@pytest.fixture
async def make_transcriber(openai_server: OpenAIServer) -> AsyncIterator[MakeTranscriber]:
    made: list[Transcriber] = []

    def make(**overrides: Any) -> Transcriber:
        transcriber = Transcriber(settings_for(openai_server, **overrides))
        made.append(transcriber)
        return transcriber

    yield make
    for transcriber in made:
        await transcriber.close()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.parametrize("fmt", ["wav", "flac", "ogg", "mp3", "opus", "webm", "m4a"])
async def test_sends_the_exact_audio_and_model(
    openai_server: OpenAIServer,
    make_transcriber: MakeTranscriber,
    speech_samples: SpeechSamples,
    fmt: str,
):
    audio = speech_samples.read(fmt)
    detected = sniff(audio[:SNIFF_BYTES])
    assert detected is not None
    openai_server.script_transcription("  What time is it in Tokyo?\n")
    transcriber = make_transcriber(stt_model="whisper-large-v3")

    text = await transcriber.transcribe(audio, detected)

    assert text == "What time is it in Tokyo?"
    [received] = openai_server.transcriptions
    assert received.file == audio
    assert received.filename == f"audio.{detected.extension}"
    assert received.content_type == detected.mime
    assert received.fields == {"model": "whisper-large-v3"}
    assert received.api_key == TEST_API_KEY


def test_base_url_falls_back_to_the_llm_then_openai(openai_server: OpenAIServer):
    both = settings_for(
        openai_server, stt_base_url="http://stt:9000/v1", llm_base_url="http://llm/v1"
    )
    llm_only = settings_for(openai_server, stt_base_url=None, llm_base_url="http://llm/v1")
    neither = settings_for(openai_server, stt_base_url=None, llm_base_url=None)

    assert stt_base_url(both) == "http://stt:9000/v1"
    assert stt_base_url(llm_only) == "http://llm/v1"
    assert stt_base_url(neither) == OPENAI_BASE_URL


async def test_unreachable_server_is_retryable(make_transcriber: MakeTranscriber):
    transcriber = make_transcriber(
        stt_base_url=f"http://127.0.0.1:{free_port()}/v1", llm_max_retries=0
    )

    with pytest.raises(TranscriptionFailed) as caught:
        await transcriber.transcribe(b"RIFF....WAVE", WAV)

    assert caught.value.code == "transcription_failed"
    assert caught.value.retryable is True


async def test_server_error_after_retries_is_retryable(
    openai_server: OpenAIServer, make_transcriber: MakeTranscriber
):
    openai_server.fail(500, times=None, endpoint="transcriptions")
    transcriber = make_transcriber(llm_max_retries=1)

    with pytest.raises(TranscriptionFailed) as caught:
        await transcriber.transcribe(b"RIFF....WAVE", WAV)

    assert caught.value.retryable is True
    assert "HTTP 500" in caught.value.message
    assert len(openai_server.transcriptions) == 2


async def test_rejected_audio_is_not_retryable(
    openai_server: OpenAIServer, make_transcriber: MakeTranscriber
):
    openai_server.fail(400, endpoint="transcriptions", message="Invalid file format.")
    transcriber = make_transcriber()

    with pytest.raises(TranscriptionFailed) as caught:
        await transcriber.transcribe(b"RIFF....WAVE", WAV)

    assert caught.value.retryable is False
    assert len(openai_server.transcriptions) == 1


async def test_rejected_key_is_not_retryable_and_not_echoed(
    openai_server: OpenAIServer, make_transcriber: MakeTranscriber
):
    openai_server.api_key = "sk-right"
    transcriber = make_transcriber(openai_api_key="sk-wrong-secret-456")

    with pytest.raises(TranscriptionFailed) as caught:
        await transcriber.transcribe(b"RIFF....WAVE", WAV)

    assert caught.value.code == "stt_auth_failed"
    assert caught.value.retryable is False
    assert "sk-wrong" not in str(caught.value)


async def test_hung_server_ends_at_the_timeout(
    openai_server: OpenAIServer, make_transcriber: MakeTranscriber
):
    openai_server.hang(times=None, endpoint="transcriptions")
    transcriber = make_transcriber(stt_timeout_s=0.3, llm_max_retries=2)

    with pytest.raises(TranscriptionFailed) as caught:
        await transcriber.transcribe(b"RIFF....WAVE", WAV)

    assert caught.value.retryable is True
    assert "0.3 s" in caught.value.message
    async with asyncio.timeout(5):
        await openai_server.disconnected.wait()
    assert openai_server.disconnects == ["transcriptions"]


async def test_not_configured_says_what_to_set(
    openai_server: OpenAIServer, make_transcriber: MakeTranscriber
):
    transcriber = make_transcriber(openai_api_key=None, llm_base_url=None, stt_base_url=None)

    with pytest.raises(TranscriptionFailed) as caught:
        await transcriber.transcribe(b"RIFF....WAVE", WAV)

    assert caught.value.code == "stt_not_configured"
    assert "OPENAI_API_KEY" in caught.value.message
    assert openai_server.transcriptions == []


async def test_self_hosted_server_needs_no_key(
    openai_server: OpenAIServer, make_transcriber: MakeTranscriber
):
    openai_server.script_transcription("hello")
    transcriber = make_transcriber(openai_api_key=None)

    assert await transcriber.transcribe(b"RIFF....WAVE", WAV) == "hello"
