"""Streaming speech in: voice activity on real espeak-ng speech, and the offline recogniser
fed frame by frame against the upload path on the same recordings."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from voice_mcp.services.intents import LocalIntents
from voice_mcp.services.intents.loader import load_file
from voice_mcp.services.intents.startup import speech_grammar
from voice_mcp.services.stt.audio_format import WAV
from voice_mcp.services.stt.local import LocalTranscriber
from voice_mcp.services.stt.pcm import RATE, wav_bytes, wav_to_pcm16
from voice_mcp.services.stt.streaming import LocalStreaming
from voice_mcp.services.stt.utterance import Utterance
from voice_mcp.services.stt.vad import FRAME_BYTES, VoiceActivity

TIME_YAML = Path(__file__).resolve().parents[3] / "config" / "intents" / "time.yaml"
FRAME = RATE * 2 // 50  # 20 ms, as a browser worklet sends


def said(tmp_path: Path, text: str) -> bytes:
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng is not installed")
    wav = tmp_path / "said.wav"
    subprocess.run(["espeak-ng", "-w", str(wav), text], check=True, capture_output=True)
    return wav_to_pcm16(wav.read_bytes())


def low_noise(ms: int, seed: int = 1) -> bytes:
    """What a real microphone sends before speech: a faint hiss (about -60 dBFS)."""
    return np.random.default_rng(seed).normal(0, 30, ms * RATE // 1000).astype("<i2").tobytes()


def test_voice_activity_finds_the_start_and_the_end_of_speech(tmp_path: Path) -> None:
    speech = said(tmp_path, "what time is it in Tokyo")
    before = low_noise(300)
    activity = VoiceActivity(silence_ms=500)
    activity.feed(before[:333])  # frames of any size
    activity.feed(before[333:])
    assert activity.onset is None
    activity.feed(speech)
    assert activity.onset is not None and len(before) <= activity.onset < len(before) + RATE
    assert activity.last_voiced is not None
    fed = len(before) + len(speech)
    while not activity.ended:  # silence, frame by frame, until the window passed
        activity.feed(bytes(FRAME))
        fed += FRAME
    window = RATE * 2 * 500 // 1000
    assert window <= fed - activity.last_voiced < window + 2 * FRAME_BYTES


def test_silence_and_faint_noise_are_not_speech() -> None:
    activity = VoiceActivity(silence_ms=100)
    activity.feed(bytes(RATE * 2) + low_noise(2000) + bytes(FRAME_BYTES // 2))
    assert activity.onset is None and not activity.ended


@pytest.fixture
async def recogniser() -> tuple[LocalIntents, LocalTranscriber]:
    intents = LocalIntents([load_file(TIME_YAML, "time")])
    transcriber = LocalTranscriber(lambda known: speech_grammar(intents, known), intents.knows,
                                   budget_s=300)  # a loaded CI machine
    await transcriber.warm()
    return intents, transcriber


async def stream(transcriber: LocalTranscriber, pcm: bytes) -> tuple[list[str], str]:
    """Feed `pcm` in 20 ms frames; the partial texts, then the transcript."""
    utterance = Utterance(LocalStreaming(transcriber).open("alice"), silence_ms=500)
    partials = []
    try:
        for offset in range(0, len(pcm), FRAME):
            partial = await utterance.feed(pcm[offset:offset + FRAME])
            if partial is not None:
                partials.append(partial)
        return partials, await utterance.finish()
    finally:
        await utterance.close()


async def test_streamed_speech_is_heard_as_the_upload_hears_it(
        recogniser: tuple[LocalIntents, LocalTranscriber], tmp_path: Path) -> None:
    _, transcriber = recogniser
    for text, before in [("what time is it in Tokyo", b""),
                         ("convert 3 pm london time to tokyo time", b""),
                         ("what time is it in Tokyo", low_noise(200))]:
        pcm = before + said(tmp_path, text) + bytes(RATE)  # 0.5 s of silence after
        partials, heard = await stream(transcriber, pcm)
        assert heard == await transcriber.transcribe(wav_bytes(pcm), WAV), text
        assert heard == text.lower().replace("3 pm", "three p.m.")
        assert partials and partials[0] != heard  # heard while the sentence went on


async def test_an_abandoned_stream_gives_back_a_usable_decoder(
        recogniser: tuple[LocalIntents, LocalTranscriber], tmp_path: Path) -> None:
    _, transcriber = recogniser
    speech = said(tmp_path, "what time is it in Tokyo")
    utterance = Utterance(LocalStreaming(transcriber).open("alice"), silence_ms=500)
    for offset in range(0, len(speech) // 2, FRAME):
        await utterance.feed(speech[offset:offset + FRAME])
    await utterance.close()  # the client left mid-sentence: no finish
    assert await transcriber.transcribe(wav_bytes(speech), WAV) == "what time is it in tokyo"
    _, heard = await stream(transcriber, speech + bytes(RATE))
    assert heard == "what time is it in tokyo"
