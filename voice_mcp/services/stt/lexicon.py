"""Pronunciations the offline recogniser can listen for.

The shipped dictionary (CMUdict, in pocketsphinx's wheel) lacks the short acronyms people say
letter by letter ("UTC", "GMT", "NYC"); those are spelled from its own letter entries, so a
template word like `utc` is heard rather than dropped from the grammar. It is also American and
spells out some names; `pronunciations.dict`, beside this module, adds the other standard
pronunciations of the place names the templates offer ("france" as F R AA N S too).
"""

from __future__ import annotations

from pathlib import Path

MAX_SPELLED = 4  # longer unknown words are names, not acronyms: spelling them would mislead
VARIANTS = Path(__file__).with_name("pronunciations.dict")


class Lexicon:
    """The dictionary's words, plus the variants and spelled acronyms to add to a decoder."""

    def __init__(self, dictionary: Path, variants: Path | None = None) -> None:
        wanted = read_variants(variants) if variants is not None else []
        known: dict[str, list[str]] = {word: [] for word, _ in wanted}
        self.words: set[str] = set()
        self.letters: dict[str, str] = {}
        for line in dictionary.read_text(encoding="utf-8").splitlines():
            word, _, phones = line.partition(" ")
            base = word.split("(", 1)[0]
            self.words.add(base)
            if base in known:
                known[base].append(" ".join(phones.split()))
            if len(word) == 1 and word.isalpha():
                self.letters[word] = phones.strip()
        # Added to a decoder as given: "word(N)" is the Nth pronunciation of "word".
        self.added: dict[str, str] = {}
        for word, phones in wanted:
            if phones not in known[word]:
                known[word].append(phones)
                count = len(known[word])
                self.added[word if count == 1 else f"{word}({count})"] = phones
        self.words.update(known)

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


def read_variants(path: Path) -> list[tuple[str, str]]:
    """(word, phones) of a variants file: CMUdict lines without "(N)"; ";;;" starts a comment."""
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        word, _, phones = line.split(";;;", 1)[0].strip().partition(" ")
        if word:
            if not phones.strip() or "(" in word:
                raise ValueError(f"not a pronunciation: {line!r}")
            out.append((word, " ".join(phones.split())))
    return out
