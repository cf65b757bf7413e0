"""Streaming to a Realtime transcription session (stt/realtime.py), through the real openai
SDK and its websockets client, against the fake server's Realtime endpoint: audio appended as
it arrives (resampled to 24 kHz), partial text from the deltas, the transcript at commit, and
every failure of the session answered by the ordinary upload."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

import numpy as np
import pytest

from tests.fakes.openai_server import OpenAIServer
from tests.fixtures.openai_server import TEST_API_KEY, settings_for
from voice_mcp.errors import TranscriptionFailed
from voice_mcp.services.stt.openai import Transcriber
from voice_mcp.services.stt.pcm import RATE, wav_to_pcm16
from voice_mcp.services.stt.realtime import RealtimeStreaming, Upsampler, session_update
from voice_mcp.services.stt.streaming import BufferedStreaming, make_streaming

FRAME = RATE * 2 // 50  # 20 ms, as the console's worklet sends


def tone(seconds: float, hz: float = 440.0) -> bytes:
    t = np.arange(int(RATE * seconds)) / RATE
    return (np.sin(2 * np.pi * hz * t) * 8000).astype("<i2").tobytes()


@pytest.fixture
async def transcriber(openai_server: OpenAIServer) -> AsyncIterator[Transcriber]:
    openai_server.realtime.enabled = True
    made = Transcriber(settings_for(openai_server, stt_realtime="on",
                                    stt_model="gpt-4o-transcribe"))
    yield made
    await made.close()


async def stream(speech: RealtimeStreaming, pcm: bytes, phrases: list[str] | None = None
                 ) -> tuple[list[str], str]:
    """Feed `pcm` in 20 ms frames, five times faster than a microphone; the partial texts
    seen, then the transcript."""
    recognizer = speech.open("alice", phrases)
    partials: list[str] = []
    try:
        for offset in range(0, len(pcm), FRAME):
            if (partial := await recognizer.feed(pcm[offset:offset + FRAME], 0)) is not None:
                partials.append(partial)
            await asyncio.sleep(0.004)
        return partials, await recognizer.finish(0)
    finally:
        await recognizer.close()


def test_upsampling_is_the_same_whole_or_in_pieces_and_keeps_the_pitch() -> None:
    pcm = tone(1.0)
    whole = Upsampler().feed(pcm)
    pieces = Upsampler()
    cut = b"".join(pieces.feed(pcm[i:i + 333]) for i in range(0, len(pcm), 333))
    assert cut == whole and abs(len(whole) // 2 - 24_000) <= 1
    samples = np.frombuffer(whole, "<i2").astype(float)
    peak_hz = np.argmax(np.abs(np.fft.rfft(samples))) * 24_000 / len(samples)
    assert abs(peak_hz - 440) < 2


def test_the_session_asks_for_24_khz_pcm_no_turn_detection_and_the_question_s_words() -> None:
    update = session_update("gpt-4o-transcribe", ["yes", "no", "the work calendar"])
    audio = update["session"]["audio"]["input"]
    assert update["session"]["type"] == "transcription"
    assert audio["format"] == {"type": "audio/pcm", "rate": 24_000}
    assert audio["turn_detection"] is None
    assert audio["transcription"] == {"model": "gpt-4o-transcribe",
                                      "prompt": "yes, no, the work calendar"}


def test_realtime_is_chosen_by_setting_and_auto_only_for_openai_itself(openai_server) -> None:
    on = Transcriber(settings_for(openai_server, stt_realtime="on"))
    auto = Transcriber(settings_for(openai_server))
    openai_itself = Transcriber(settings_for(openai_server, stt_base_url=None, llm_base_url=None))
    assert isinstance(make_streaming(on), RealtimeStreaming)
    assert isinstance(make_streaming(auto), BufferedStreaming)  # a self-hosted server: opt in
    assert isinstance(make_streaming(openai_itself), RealtimeStreaming)


async def test_audio_streams_as_it_arrives_and_the_deltas_are_partial_text(
        transcriber: Transcriber, openai_server: OpenAIServer) -> None:
    openai_server.script_transcription("what time is it in Tokyo")
    speech = make_streaming(transcriber)
    assert isinstance(speech, RealtimeStreaming)
    pcm = tone(2.0)
    partials, heard = await stream(speech, pcm, ["yes", "no"])
    assert heard == "what time is it in Tokyo"
    assert partials and partials[-1].startswith("what time")  # before the commit
    [session] = openai_server.realtime.sessions
    assert session.api_key == TEST_API_KEY and session.query == {"intent": "transcription"}
    assert session.session == session_update("gpt-4o-transcribe", ["yes", "no"])["session"]
    assert session.committed and session.audio == Upsampler().feed(pcm)
    assert openai_server.transcriptions == []  # nothing uploaded


async def test_a_server_without_realtime_gets_the_utterance_as_one_upload(
        transcriber: Transcriber, openai_server: OpenAIServer, caplog) -> None:
    openai_server.realtime.enabled = False
    openai_server.script_transcription("turn on the lights")
    pcm = tone(0.5)
    with caplog.at_level(logging.WARNING):
        _, heard = await stream(make_streaming(transcriber), pcm)  # type: ignore[arg-type]
    assert heard == "turn on the lights"
    [upload] = openai_server.transcriptions
    assert wav_to_pcm16(upload.file) == pcm
    assert TEST_API_KEY not in caplog.text


@pytest.mark.parametrize("behaviour", ["error", "garbage"])
async def test_a_failing_or_hostile_session_falls_back_to_the_upload(
        transcriber: Transcriber, openai_server: OpenAIServer, behaviour, caplog) -> None:
    openai_server.realtime.behaviour = behaviour
    openai_server.script_transcription("ignored by the session", "play some jazz")
    with caplog.at_level(logging.WARNING):
        _, heard = await stream(make_streaming(transcriber), tone(0.6))  # type: ignore[arg-type]
    assert heard == "play some jazz"
    assert len(openai_server.realtime.sessions) == 1 and len(openai_server.transcriptions) == 1
    assert "sk-leak-me" not in caplog.text and "boom" not in caplog.text


async def test_a_session_that_never_answers_is_a_retryable_failure(
        openai_server: OpenAIServer) -> None:
    openai_server.realtime.enabled = True
    openai_server.realtime.behaviour = "silent"
    openai_server.script_transcription("never said")
    transcriber = Transcriber(settings_for(openai_server, stt_realtime="on", stt_timeout_s=0.5))
    try:
        with pytest.raises(TranscriptionFailed) as failed:
            await stream(make_streaming(transcriber), tone(0.3))  # type: ignore[arg-type]
    finally:
        await transcriber.close()
    assert failed.value.retryable and "0.5 s" in failed.value.message
    assert openai_server.transcriptions == []
