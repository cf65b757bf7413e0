"""The deterministic template grammar: same sentences, the templates' preferences, one path a
prefix; read from what pocketsphinx itself compiles."""

from __future__ import annotations

import math
import random
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest

from bench.local_intents import sentences
from voice_mcp.services.intents import LocalIntents
from voice_mcp.services.intents.loader import load_file
from voice_mcp.services.intents.startup import speech_grammar
from voice_mcp.services.stt.local import GRAMMAR_LW, model_dir, shipped_lexicon
from voice_mcp.services.stt.speech_graph import (
    CycleError,
    Transition,
    compile_grammar,
    determinize,
    read_fsg,
)

TIME_YAML = Path(__file__).resolve().parents[3] / "config" / "intents" / "time.yaml"
SMALL = ("#JSGF V1.0;\ngrammar t;\n"
         "public <c> = ( what time | what day ) [ is it ] | ( tell | give ) me <thing>;\n"
         "<thing> = the time | the date;\n")


@pytest.fixture(scope="module")
def decoder() -> Any:
    from pocketsphinx import Decoder

    model = model_dir()
    return Decoder(hmm=str(model / "en-us"), lm=None, dict=str(model / "cmudict-en-us.dict"),
                   lw=GRAMMAR_LW, loglevel="FATAL")


def _graph(decoder: Any, jsgf: str, tmp_path: Path) -> tuple[int, int, list[Transition]]:
    path = tmp_path / "g.fsg"
    decoder.parse_jsgf(jsgf).writefile(str(path))
    return determinize(read_fsg(path.read_text(), float(decoder.config["lw"])))


def _sentences(start: int, final: int, transitions: list[Transition]) -> dict[str, float]:
    """Every sentence of an acyclic graph with its probability."""
    out: dict[int, list[Transition]] = defaultdict(list)
    for transition in transitions:
        out[transition[0]].append(transition)
    found: dict[str, float] = {}

    def walk(state: int, words: list[str], prob: float) -> None:
        if state == final:
            key = " ".join(words)
            found[key] = found.get(key, 0.0) + prob
        for transition in out[state]:
            word = [transition[3]] if len(transition) == 4 else []
            walk(transition[1], words + word, prob * transition[2])

    walk(start, [], 1.0)
    return found


def test_the_same_sentences_with_the_grammars_shares(decoder: Any, tmp_path: Path) -> None:
    start, final, transitions = _graph(decoder, SMALL, tmp_path)
    said = _sentences(start, final, transitions)
    assert set(said) == {"what time", "what day", "what time is it", "what day is it",
                         "tell me the time", "tell me the date", "give me the time",
                         "give me the date"}
    # Each alternative equally likely, as the JSGF says: half go to "what ...", half of those
    # say "is it"; the other half split between tell/give and time/date.
    assert said["what time is it"] == pytest.approx(1 / 8, rel=1e-3)
    assert said["give me the date"] == pytest.approx(1 / 8, rel=1e-3)
    assert math.fsum(said.values()) == pytest.approx(1.0, rel=1e-3)


def test_a_prefix_is_one_path(decoder: Any, tmp_path: Path) -> None:
    start, _final, transitions = _graph(decoder, SMALL, tmp_path)
    from_start = [t for t in transitions if t[0] == start and len(t) == 4]
    assert sorted(t[3] for t in from_start) == ["give", "tell", "what"]  # one "what", not two
    after_what = {t[1] for t in from_start if t[3] == "what"}
    words = sorted(t[3] for t in transitions if t[0] in after_what and len(t) == 4)
    assert words == ["day", "time"]


def test_every_state_chooses_among_its_ways_out(decoder: Any, tmp_path: Path) -> None:
    _start, _final, transitions = _graph(decoder, SMALL, tmp_path)
    totals: dict[int, float] = defaultdict(float)
    for transition in transitions:
        totals[transition[0]] += transition[2]
    assert all(total == pytest.approx(1.0, rel=1e-6) for total in totals.values())


def test_a_grammar_with_a_loop_is_refused() -> None:
    looped = ("START_STATE 0\nFINAL_STATE 2\nTRANSITION 0 1 1.0 a\nTRANSITION 1 0 0.5 b\n"
              "TRANSITION 1 2 0.5 c\n")
    with pytest.raises(CycleError):
        determinize(read_fsg(looped, 1.0))


def test_text_without_states_is_not_a_grammar() -> None:
    with pytest.raises(ValueError):
        read_fsg("TRANSITION 0 1 1.0 a\n", 1.0)


def test_the_time_templates_become_a_small_graph_that_takes_their_sentences(
        decoder: Any, tmp_path: Path) -> None:
    intents = LocalIntents([load_file(TIME_YAML, "time")])
    lexicon = shipped_lexicon()
    grammar = speech_grammar(intents, lexicon.knows)  # spells the acronyms it meets
    assert grammar is not None
    for word, phones in lexicon.added.items():
        decoder.add_word(word, phones, False)
    compiled = decoder.parse_jsgf(grammar)
    compiled.writefile(str(tmp_path / "nfa.fsg"))
    nfa_arcs = (tmp_path / "nfa.fsg").read_text().count("TRANSITION")
    start, final, transitions = _graph(decoder, grammar, tmp_path)
    assert len(transitions) < nfa_arcs / 2  # the merged prefixes
    step = {(t[0], t[3]): t[1] for t in transitions if len(t) == 4}
    ends = {t[0] for t in transitions if len(t) == 3 and t[1] == final}
    spoken = {"3 pm": "three p.m.", "9 am": "nine a.m.", "7 30 pm": "seven thirty p.m.",
              "10 am": "ten a.m.", "6 pm": "six p.m."}
    for sentence in sentences(40, random.Random(5)):
        for typed, said in spoken.items():
            sentence = sentence.replace(typed, said)
        state = start
        for word in sentence.split():
            assert (state, word) in step, sentence
            state = step[(state, word)]
        assert state in ends, sentence
    assert compile_grammar(decoder, "templates", grammar) == len(transitions)
    decoder.activate_search("templates")
