"""A BM25 index over one tool set, built once per tool-set version."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from typing import Final

import bm25s
import numpy as np

from voice_mcp.services.mcp.models import ToolInfo
from voice_mcp.services.tool_index.documents import TokenCache, content_hash
from voice_mcp.services.tool_index.tokens import tokenize

COPY_DEPTH: Final = 4  # how many ranked tools per offered slot are looked at for copies
_EMPTY_DOC = ["\u2400"]  # bm25s cannot index an empty document; this token never matches
_tokens = TokenCache()


def forget_tokens() -> None:
    """Empty the shared token cache, so the next build is a cold one (for benchmarks)."""
    _tokens.clear()


def tool_set_version(hashes: Sequence[str]) -> str:
    """The version of a tool set: a hash of its tools' content hashes, order ignored."""
    return hashlib.sha256("\n".join(sorted(hashes)).encode()).hexdigest()[:16]


class ToolIndex:
    """The tools of one set and a lexical index over them; immutable once built."""

    def __init__(self, tools: Sequence[ToolInfo],
                 service_titles: Mapping[str, str] | None = None, *,
                 hashes: Sequence[str] | None = None) -> None:
        titles = service_titles or {}
        self.tools: tuple[ToolInfo, ...] = tuple(tools)
        self.hashes: tuple[str, ...] = tuple(hashes if hashes is not None
                                             else (content_hash(t) for t in self.tools))
        self.version = tool_set_version(self.hashes)
        self.titles = dict(titles)
        # The same server connected twice (work and home accounts): the same tool, other service.
        self._kinds = [hash((t.name, t.title, t.description)) for t in self.tools]
        services = {s: i for i, s in enumerate(dict.fromkeys(t.service for t in self.tools))}
        self._service_of = np.asarray([services[t.service] for t in self.tools], dtype=np.intp)
        self._service_count = len(services)
        corpus = [_tokens.tokens(t, h, titles.get(t.service, "")) or _EMPTY_DOC
                  for t, h in zip(self.tools, self.hashes, strict=True)]
        self._bm25 = bm25s.BM25()
        self._vocab: dict[str, int] = {}
        if corpus:
            self._bm25.index(corpus, show_progress=False)
            self._vocab = self._bm25.vocab_dict

    def __len__(self) -> int:
        return len(self.tools)

    def scores(self, query: str) -> np.ndarray:
        """The BM25 score of every tool for a query (zeros when no word is known)."""
        words = [w for w in tokenize(query) if w in self._vocab]
        if not words or not self.tools:
            return np.zeros(len(self.tools), dtype=np.float32)
        return np.asarray(self._bm25.get_scores(words), dtype=np.float32)

    def rank(self, query: str, k: int, sibling_weight: float = 0.0) -> list[int]:
        """Positions of the best `k` tools with a positive score, best first.

        With `sibling_weight`, each tool also gets that share of the best score of its
        service (see `with_siblings`). A copy of a tool already ranked (same name and
        description, another service) comes after the distinct tools: it offers the LLM no
        new choice, and four copies of a wrong tool would push the right one out of a short list.
        """
        scores = self.scores(query)
        if sibling_weight > 0:
            scores = with_siblings(scores, self._service_of, self._service_count, sibling_weight)
        return self.copies_last(top_positive(scores, k * COPY_DEPTH))[:k]

    def copies_last(self, ranked: Sequence[int]) -> list[int]:
        """`ranked` with the copies of tools ranked above them moved to the end."""
        return copies_last(ranked, self._kinds)


def with_siblings(scores: np.ndarray, service_of: np.ndarray, services: int,
                  weight: float) -> np.ndarray:
    """Each positive score plus `weight` times the best score of its service.

    A task that needs one tool of a server often needs its siblings (search issues, then
    comment on one): a tool that matches a request weakly rises with a service that matches
    it well, and of equally matching tools the ones of a matching service come first. A tool
    that shares no word with the request stays out: siblings reorder, they add no stranger.
    """
    best = np.zeros(services, dtype=np.float32)
    np.maximum.at(best, service_of, scores)
    boosted: np.ndarray = np.where(scores > 0, scores + np.float32(weight) * best[service_of],
                                   np.float32(0))
    return boosted


def copies_last(ranked: Sequence[int], kinds: Sequence[int]) -> list[int]:
    """`ranked` with every tool whose kind was already seen moved to the end, order kept."""
    seen: set[int] = set()
    first: list[int] = []
    copies: list[int] = []
    for position in ranked:
        (copies if kinds[position] in seen else first).append(position)
        seen.add(kinds[position])
    return first + copies


def top_positive(scores: np.ndarray, k: int) -> list[int]:
    """Indices of the `k` highest positive scores, best first, ties by position."""
    if k <= 0 or scores.size == 0:
        return []
    k = min(k, scores.size)
    part = np.argpartition(-scores, k - 1)[:k]
    order = part[np.lexsort((part, -scores[part]))]
    return [int(i) for i in order if scores[i] > 0]
