"""Pronunciations the offline recogniser can listen for.

The shipped dictionary (CMUdict, in pocketsphinx's wheel) lacks the short acronyms people say
letter by letter ("UTC", "GMT", "NYC"); those are spelled from its own letter entries, so a
template word like `utc` is heard rather than dropped from the grammar.
"""

from __future__ import annotations

from pathlib import Path

MAX_SPELLED = 4  # longer unknown words are names, not acronyms: spelling them would mislead


class Lexicon:
    """The dictionary's words, plus the spelled acronyms asked for (to add to a decoder)."""

    def __init__(self, dictionary: Path) -> None:
        self.words: set[str] = set()
        self.letters: dict[str, str] = {}
        for line in dictionary.read_text(encoding="utf-8").splitlines():
            word, _, phones = line.partition(" ")
            base = word.split("(", 1)[0]
            self.words.add(base)
            if len(word) == 1 and word.isalpha():
                self.letters[word] = phones.strip()
        self.added: dict[str, str] = {}

    def knows(self, word: str) -> bool:
        """Whether the recogniser can hear `word`; a spelled acronym is remembered in `added`."""
        if word in self.words or word in self.added:
            return True
        phones = self.spelled(word)
        if phones is None:
            return False
        self.added[word] = phones
        return True

    def spelled(self, word: str) -> str | None:
        """The phones of `word` said letter by letter, when it is short enough to be an acronym."""
        if not (0 < len(word) <= MAX_SPELLED and word.isalpha()):
            return None
        phones = [self.letters.get(letter) for letter in word]
        return None if any(p is None for p in phones) else " ".join(p for p in phones if p)
