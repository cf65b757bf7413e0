"""The recogniser's lexicon: dictionary words, and short unknown words spelled as acronyms."""

from __future__ import annotations

from pathlib import Path

from voice_mcp.services.lexicon import Lexicon


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
