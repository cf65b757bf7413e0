"""An answer's phrases as the grammar the offline recogniser listens for alone."""

from __future__ import annotations

from tests.mcp_servers.question_server import COUNT, SIZES
from voice_mcp.services.asking.fields import form_fields
from voice_mcp.services.asking.words import vocabulary
from voice_mcp.services.stt.local import LocalTranscriber
from voice_mcp.services.stt.pcm import RATE, wav_to_pcm16
from voice_mcp.services.stt.phrases import PHRASES, phrase_grammar
from voice_mcp.services.stt.streaming import LocalStreaming
from voice_mcp.services.stt.utterance import Utterance

FRAME = RATE * 2 // 50  # 20 ms


def test_the_grammar_keeps_the_phrases_whose_words_are_known() -> None:
    known = {"the", "large", "one", "small", "never", "mind"}
    grammar = phrase_grammar(["the large one", "small", "never mind", "cal-work", "xyzzy",
                              "small"], known.__contains__)
    assert grammar == ("#JSGF V1.0;\ngrammar phrases;\n"
                       f"public <{PHRASES}> = ( never mind | small | the large one )+ [please];\n")
    assert phrase_grammar(["xyzzy"], known.__contains__) is None
    assert phrase_grammar([], known.__contains__) is None



async def test_one_decoder_hears_one_questions_phrases_then_the_next(speech_samples) -> None:
    """Streamed as the listen socket does, on one decoder: each answer among its question's
    phrases (replacing the last question's active search used to abort the process), where
    open vocabulary mishears the word said alone."""
    transcriber = LocalTranscriber(lambda knows: None, lambda text: True, decoders=1)
    streaming = LocalStreaming(transcriber)

    async def heard(said: str, phrases: list[str] | None) -> str:
        pcm = wav_to_pcm16(speech_samples.read("wav", said)) + bytes(RATE // 2)
        utterance = Utterance(streaming.open("alice", phrases), silence_ms=500)
        try:
            for offset in range(0, len(pcm), FRAME):
                await utterance.feed(pcm[offset:offset + FRAME])
            return await utterance.finish()
        finally:
            await utterance.close()

    sizes, count = vocabulary(form_fields(SIZES)), vocabulary(form_fields(COUNT))
    boolean = vocabulary([{"name": "ok", "type": "boolean", "required": True}])
    assert await heard("large", None) != "large"
    assert await heard("large", sizes) == "large"
    assert await heard("two please", count) == "two please"
    assert await heard("yes", boolean) == "yes"
    assert await heard("the small one", sizes) == "the small one"
