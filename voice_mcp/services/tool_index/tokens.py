"""Tokens for tool ranking in any language: words for spaced scripts, bigrams for CJK.

Identifiers are split on `_`, `-`, `.` and camelCase so `listEvents` and `list_events` meet
"list events". Han, Kana and Hangul runs have no spaces between words, so each run becomes
its overlapping character bigrams (a lone character stays itself): the usual CJK choice
for BM25, no dictionary needed. Other words are lower-cased, common words of a few
languages dropped, and English words stemmed when PyStemmer is installed.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from functools import lru_cache
from typing import Final

from bm25s.stopwords import (
    STOPWORDS_EN,
    STOPWORDS_FRENCH,
    STOPWORDS_GERMAN,
    STOPWORDS_ITALIAN,
    STOPWORDS_PORTUGUESE,
    STOPWORDS_SPANISH,
)

_CJK: Final = (
    "\u1100-\u11ff\u3040-\u309f\u30a0-\u30ff\u3130-\u318f\u31f0-\u31ff"
    "\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff"
)
_RUN = re.compile(rf"[{_CJK}]+|[^\W_{_CJK}]+")
_CJK_RUN = re.compile(rf"[{_CJK}]")
_CJK_FIRST: Final = "\u1100"
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z]{2,})")
# Words a spoken request is full of that say nothing about which tool fits it.
_SPOKEN: Final = frozenset({
    "please", "can", "could", "would", "tell", "want", "need", "like", "hey", "let",
    "me", "my", "mine", "us", "know", "show", "give", "find", "get", "make", "use",
})
STOPWORDS: Final = frozenset(
    w.lower() for words in (STOPWORDS_EN, STOPWORDS_SPANISH, STOPWORDS_GERMAN,
                            STOPWORDS_FRENCH, STOPWORDS_ITALIAN, STOPWORDS_PORTUGUESE)
    for w in words
) | _SPOKEN


def _load_stemmer() -> Callable[[str], str]:
    try:
        import Stemmer  # PyStemmer: optional, a light English stemmer
    except ImportError:  # pragma: no cover - depends on the environment
        return lambda word: word
    stemmer = Stemmer.Stemmer("english")
    stem: Callable[[str], str] = lru_cache(maxsize=65536)(stemmer.stemWord)
    return stem


_stem = _load_stemmer()


def _bigrams(run: str) -> list[str]:
    if len(run) == 1:
        return [run]
    return [run[i:i + 2] for i in range(len(run) - 1)]


def tokenize(text: str) -> list[str]:
    """The ranking tokens of a text (the same function for tools and for queries)."""
    text = unicodedata.normalize("NFKC", _CAMEL.sub(" ", text))
    out: list[str] = []
    for run in _RUN.findall(text):
        if run[0] >= _CJK_FIRST and _CJK_RUN.match(run):
            out.extend(_bigrams(run))
            continue
        word = run.lower()
        if word not in STOPWORDS:
            out.append(_stem(word))
    return out
