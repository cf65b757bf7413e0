"""Offline speech in: pocketsphinx on real espeak-ng speech, the backend choice, PCM decoding."""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from tests.fixtures.openai_server import TEST_API_KEY
from voice_mcp.errors import TranscriptionFailed
from voice_mcp.services.intents import LocalIntents
from voice_mcp.services.intents.loader import load_file
from voice_mcp.services.intents.startup import speech_grammar
from voice_mcp.services.stt.audio_format import FLAC, WAV
from voice_mcp.services.stt.choose import NoSpeech, stt_mode
from voice_mcp.services.stt.local import (
    DITHER,
    GRAMMAR,
    GRAMMAR_LW,
    LocalTranscriber,
    _prime_cmn,
    dither,
    shipped_lexicon,
)
from voice_mcp.services.stt.pcm import MAX_SECONDS, RATE, to_pcm16, wav_bytes, wav_to_pcm16
from voice_mcp.settings import Settings

TIME_YAML = Path(__file__).resolve().parents[3] / "config" / "intents" / "time.yaml"


def _espeak(tmp_path: Path, text: str, voice: str = "en-us", speed: int = 140) -> bytes:
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng is not installed")
    wav = tmp_path / "said.wav"
    subprocess.run(["espeak-ng", "-v", voice, "-s", str(speed), "-w", str(wav), text], check=True)
    return wav.read_bytes()


def _time_transcriber() -> tuple[LocalIntents, LocalTranscriber]:
    """The time templates and a recogniser for them, with a budget a loaded CI machine meets."""
    intents = LocalIntents([load_file(TIME_YAML, "time")])
    return intents, LocalTranscriber(lambda known: speech_grammar(intents, known),
                                     intents.knows, budget_s=300)


def _decoders(transcriber: LocalTranscriber) -> Any:
    """The one recogniser a warmed transcriber has built."""
    assert transcriber._pool.built == 1
    return transcriber._pool._free[0]


def _assert_same_command(intents: LocalIntents, said: str, heard: str) -> None:
    """`heard` matches the intent and arguments the text `said` matches."""
    want, got = intents.match(said, ["time"]), intents.match(heard, ["time"])
    assert want is not None and got is not None, heard
    assert (got.intent, got.arguments) == (want.intent, want.arguments), heard


def test_the_template_grammar_loads_into_the_shipped_decoder() -> None:
    from pocketsphinx import Decoder

    intents = LocalIntents([load_file(TIME_YAML, "time")])
    lexicon = shipped_lexicon()
    grammar = speech_grammar(intents, lexicon.knows)
    assert grammar is not None
    assert "<list_place>" in grammar and "<list_time>" in grammar and " tokyo " in grammar
    assert " utc " in grammar and lexicon.added["utc"] == "Y UW T IY S IY"  # spelled
    decoder = Decoder(loglevel="FATAL")
    for word, phones in lexicon.added.items():
        decoder.add_word(word, phones, False)
    decoder.add_jsgf_string("templates", grammar)  # raises ValueError on a bad grammar
    decoder.activate_search("templates")


async def test_the_recogniser_searches_the_deterministic_grammar() -> None:
    intents = LocalIntents([load_file(TIME_YAML, "time")])
    transcriber = LocalTranscriber(lambda known: speech_grammar(intents, known), intents.knows)
    await transcriber.warm()
    decoder = _decoders(transcriber).grammar
    assert decoder is not None and decoder.current_search() == GRAMMAR
    assert decoder.get_fsg(GRAMMAR).word_id("what") >= 0
    assert float(decoder.config["lw"]) == GRAMMAR_LW


async def test_a_grammar_that_cannot_be_merged_is_searched_as_written(monkeypatch) -> None:
    import voice_mcp.services.stt.local as local
    from voice_mcp.services.stt.speech_graph import CycleError

    def refuse(*_args: Any) -> int:
        raise CycleError("a loop")

    monkeypatch.setattr(local, "compile_grammar", refuse)
    grammar = "#JSGF V1.0;\ngrammar t;\npublic <c> = what time is it;\n"
    transcriber = LocalTranscriber(lambda _known: grammar, lambda _: True)
    await transcriber.warm()
    decoder = _decoders(transcriber).grammar
    assert decoder is not None and decoder.current_search() == GRAMMAR


async def test_a_grammar_pocketsphinx_cannot_read_leaves_open_vocabulary() -> None:
    transcriber = LocalTranscriber(lambda _known: "not a grammar", lambda _: True)
    await transcriber.warm()
    decoders = _decoders(transcriber)
    assert decoders.grammar is None and decoders.open is not None


@pytest.mark.parametrize(("said", "zone"), [
    ("what time is it in tokyo", "Asia/Tokyo"),
    ("what time is it in montreal", "America/Toronto"),
    ("what's the time in singapore", "Asia/Singapore"),
])
async def test_real_speech_is_heard_as_the_right_intent(tmp_path, said, zone) -> None:
    """espeak-ng speech -> offline transcript -> the template matcher: intent and slot right."""
    intents, transcriber = _time_transcriber()
    heard = await transcriber.transcribe(_espeak(tmp_path, said), WAV)
    match = intents.match(heard, ["time"])
    assert match is not None, heard
    assert match.intent == "CurrentTime" and match.arguments == {"timezone": zone}, heard


@pytest.mark.parametrize(("said", "voice", "speed"), [
    ("what time is it", "en-us", 175),  # was heard short of the grammar's end: "what time"
    ("convert 3 pm tokyo time to utc time", "en-us", 140),  # "utc" is spelled, not dropped
    ("what is 9 am in london in new york", "en-gb-x-rp", 150),
    # heard once the places' other pronunciations were added (pronunciations.dict)
    ("what time is it in zurich", "en-us", 140),  # was "new york"
    ("what time is it in auckland", "en", 160),  # was "austin"
    ("what's the time in brisbane", "en-us", 190),  # was "switzerland"
    ("what time is it in france", "en-gb-x-rp", 150),  # was "caracas"
    ("what time is it in buenos aires", "en-us", 175),  # was "what i deeply also i live"
])
async def test_speech_gives_the_intent_and_arguments_its_text_gives(tmp_path, said, voice,
                                                                    speed) -> None:
    intents, transcriber = _time_transcriber()
    heard = await transcriber.transcribe(_espeak(tmp_path, said, voice, speed), WAV)
    _assert_same_command(intents, said, heard)


async def test_a_recording_is_heard_the_same_whatever_came_before(tmp_path) -> None:
    """The features start afresh each time: the previous recording's cepstral mean and noise
    estimate had turned this "nine a.m." into "one a.m."."""
    before = _espeak(tmp_path, "what is 9 am in iran in athens", "en-us", 175)
    said = "convert 9 am warsaw time to jamaica time"
    recording = _espeak(tmp_path, said, "en", 160)
    intents, fresh = _time_transcriber()
    _, used = _time_transcriber()
    await used.transcribe(before, WAV)
    heard = [await fresh.transcribe(recording, WAV), await used.transcribe(recording, WAV)]
    scores = [_decoders(t).grammar.hyp().score for t in (fresh, used)]
    assert heard[0] == heard[1] and scores[0] == scores[1], (heard, scores)
    _assert_same_command(intents, said, heard[1])


async def test_a_recording_over_the_cap_is_refused_before_decoding() -> None:
    silence = b"\x00\x00" * RATE * (MAX_SECONDS + 1)
    transcriber = LocalTranscriber(lambda _known: None, lambda _: True)
    with pytest.raises(TranscriptionFailed) as caught:
        await transcriber.transcribe(_wav(silence), WAV)
    assert caught.value.code == "audio_too_long"


def test_dither_keeps_length_and_breaks_digital_silence() -> None:
    pcm = b"\x00\x00" * 1000
    out = dither(pcm)
    assert len(out) == len(pcm) and out != pcm


def test_dither_is_seeded_faint_and_clipped() -> None:
    import numpy as np

    pcm = np.array([0, 32767, -32768, 1000] * 4000, dtype="<i2").tobytes()
    out = dither(pcm)
    assert dither(pcm) == out  # the same recording always decodes the same way
    before, after = (np.frombuffer(b, dtype="<i2").astype(np.int64) for b in (pcm, out))
    assert abs(float((after - before)[::4].std()) - DITHER) < DITHER * 0.05
    # clipped, no wrap-around: full scale stays near full scale, never flips sign
    assert after[1::4].min() > 32767 - 6 * DITHER and after[2::4].max() < -32768 + 6 * DITHER


class CountingDecoder:
    """A real decoder that counts the chunks each pass feeds it."""

    def __init__(self, decoder: Any) -> None:
        self.decoder = decoder
        self.primed = self.searched = 0

    def process_raw(self, data: bytes, no_search: bool, full_utt: bool) -> Any:
        if no_search:
            self.primed += 1
        else:
            self.searched += 1
        return self.decoder.process_raw(data, no_search=no_search, full_utt=full_utt)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.decoder, name)


def test_a_cmn_pre_pass_past_the_deadline_fails_and_leaves_the_decoder_usable() -> None:
    from pocketsphinx import Decoder

    decoder = CountingDecoder(Decoder(loglevel="FATAL"))
    pcm = dither(b"\x00\x00" * RATE * 3)
    with pytest.raises(TranscriptionFailed) as caught:
        _prime_cmn(decoder, pcm, time.monotonic() - 1)
    assert caught.value.retryable and decoder.primed == 1
    _prime_cmn(decoder, pcm, time.monotonic() + 300)  # its utterance was closed: a new one runs
    assert decoder.primed == 2


async def test_a_decode_over_budget_gives_the_decoder_back_after_the_pre_pass() -> None:
    transcriber = LocalTranscriber(lambda _known: None, lambda _: True, budget_s=0)
    await transcriber.warm()
    decoders = _decoders(transcriber)
    decoder = decoders.open = CountingDecoder(decoders.open)
    with pytest.raises(TranscriptionFailed):
        await transcriber.transcribe(_wav(b"\x00\x00" * RATE * 5), WAV)
    assert (decoder.primed, decoder.searched) == (1, 0)  # the pre-pass, then no search


def _wav(pcm: bytes) -> bytes:
    return wav_bytes(pcm)


def test_auto_picks_local_without_a_key_or_speech_server() -> None:
    assert stt_mode(Settings(_env_file=None)) == "local"
    assert stt_mode(Settings(_env_file=None, openai_api_key=TEST_API_KEY)) == "openai"
    assert stt_mode(Settings(_env_file=None, stt_base_url="http://127.0.0.1:9/v1")) == "openai"
    assert stt_mode(Settings(_env_file=None, openai_api_key=TEST_API_KEY, stt="local")) == "local"


async def test_off_refuses_recordings() -> None:
    with pytest.raises(TranscriptionFailed) as caught:
        await NoSpeech().transcribe(b"RIFF", WAV)
    assert caught.value.code == "stt_not_configured" and caught.value.status == 503


async def test_wav_is_read_in_process_like_the_tools_read_it(tmp_path) -> None:
    audio = _espeak(tmp_path, "hello")  # 22050 Hz mono
    mine = wav_to_pcm16(audio)
    tools = await to_pcm16(audio, WAV)
    assert abs(len(mine) - len(tools)) <= 64  # same duration at 16 kHz, 2 bytes a sample
    assert len(mine) == pytest.approx(len(audio) * RATE / 22050, rel=0.01)


async def test_other_containers_are_decoded_by_ffmpeg_or_sox(tmp_path, speech_samples) -> None:
    pcm = await to_pcm16(speech_samples.read("flac"), FLAC)
    assert len(pcm) > RATE  # over half a second of 16-bit samples


def test_a_broken_wav_is_a_clear_error() -> None:
    with pytest.raises(TranscriptionFailed) as caught:
        wav_to_pcm16(b"RIFF\x00\x00\x00\x00WAVEjunk")
    assert caught.value.code == "bad_audio"
