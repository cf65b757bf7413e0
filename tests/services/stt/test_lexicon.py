"""The recogniser's lexicon: dictionary words, place-name variants, and short unknown words
spelled as acronyms."""

from __future__ import annotations

from pathlib import Path

import pytest

from voice_mcp.services.intents.places import speech_places
from voice_mcp.services.stt.lexicon import VARIANTS, Lexicon, read_variants
from voice_mcp.services.stt.local import model_dir


def _lexicon(tmp_path: Path) -> Lexicon:
    path = tmp_path / "words.dict"
    path.write_text("g JH IY\nm EH M\nt T IY\nu Y UW\nc S IY\ntime T AY M\ntime(2) T AY M\n")
    return Lexicon(path)


def test_dictionary_words_are_known_without_additions(tmp_path) -> None:
    lexicon = _lexicon(tmp_path)
    assert lexicon.knows("time") and lexicon.added == {}


def test_short_unknown_words_are_spelled_and_remembered(tmp_path) -> None:
    lexicon = _lexicon(tmp_path)
    assert lexicon.knows("utc") and lexicon.knows("gmt")
    assert lexicon.added == {"utc": "Y UW T IY S IY", "gmt": "JH IY EH M T IY"}


def test_names_and_unspellable_words_stay_unknown(tmp_path) -> None:
    lexicon = _lexicon(tmp_path)
    assert not lexicon.knows("timbuktu")  # too long to be an acronym
    assert not lexicon.knows("utx")  # no letter entry for x
    assert not lexicon.knows("u2") and not lexicon.knows("")
    assert lexicon.added == {}


def test_variants_come_after_the_dictionary_own_and_skip_repeats(tmp_path) -> None:
    variants = tmp_path / "variants.dict"
    variants.write_text(";;; a comment\ntime T IH M ;;; said short\ntime T AY M\n"
                        "zurich Z Y UH R IH K\nzurich Z UH R IH K\n\n")
    _lexicon(tmp_path)  # writes words.dict
    lexicon = Lexicon(tmp_path / "words.dict", variants)
    assert lexicon.added == {"time(3)": "T IH M", "zurich": "Z Y UH R IH K",
                             "zurich(2)": "Z UH R IH K"}
    assert lexicon.knows("zurich")


@pytest.mark.parametrize("line", ["time(2) T AY M", "time", "time   "])
def test_a_variant_line_that_is_not_a_pronunciation_is_refused(tmp_path, line) -> None:
    path = tmp_path / "variants.dict"
    path.write_text(line + "\n")
    with pytest.raises(ValueError, match="not a pronunciation"):
        read_variants(path)


def test_the_shipped_variants_are_new_pronunciations_in_the_model_phones() -> None:
    """Each adds a pronunciation of a word the templates offer, in phones the model has."""
    dictionary = model_dir() / "cmudict-en-us.dict"
    phones = {p for line in dictionary.read_text().splitlines() for p in line.split()[1:]}
    variants = read_variants(VARIANTS)
    lexicon = Lexicon(dictionary, VARIANTS)
    assert len(lexicon.added) == len(variants) > 0  # none repeats the dictionary's own
    place_words = {word for place in speech_places() for word in place.split()}
    for word, said in variants:
        assert word in place_words and set(said.split()) <= phones, (word, said)
