"""A BM25 index over one tool set, built once per tool-set version."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from functools import cached_property
from typing import Final

import bm25s
import numpy as np

from voice_mcp.services.mcp.models import ToolInfo
from voice_mcp.services.tool_index.documents import TokenCache, content_hash
from voice_mcp.services.tool_index.tokens import tokenize

COPY_DEPTH: Final = 4  # how many ranked tools per offered slot are looked at for copies
# BM25's term saturation: 2.0 (bm25s' default 1.5) lets a word repeated in a tool's name, title
# and parameters count a little more (docs/discovery.md, Multi-step tasks).
BM25_K1: Final = 2.0
FEEDBACK_DOCS: Final = 3  # pseudo-relevance feedback: the best tools whose words are borrowed
FEEDBACK_WEIGHT: Final = 0.3  # the best borrowed word's weight; a request's own words weigh 1
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
                 hashes: Sequence[str] | None = None, k1: float = BM25_K1) -> None:
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
        self._bm25 = bm25s.BM25(k1=k1)
        self._vocab: dict[str, int] = {}
        self._corpus = corpus
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

    def weighted_scores(self, weights: Mapping[int, float]) -> np.ndarray:
        """The BM25 score of every tool for a query of weighted vocabulary ids."""
        matrix = self._bm25.scores
        data, indices, indptr = matrix["data"], matrix["indices"], matrix["indptr"]
        out = np.zeros(len(self.tools), dtype=np.float32)
        for term, weight in weights.items():
            start, end = indptr[term], indptr[term + 1]
            out[indices[start:end]] += np.float32(weight) * data[start:end]
        return out

    def rank(self, query: str, k: int, sibling_weight: float = 0.0,
             expansion: int = 0) -> list[int]:
        """Positions of the best `k` tools with a positive score, best first.

        With `sibling_weight`, each tool also gets that share of the best score of its
        service (see `with_siblings`). With `expansion`, that many words of the best-ranked
        tools join the request, down-weighted (see `Feedback`). A copy of a tool already
        ranked (same name and description, another service) comes after the distinct tools:
        it offers the LLM no new choice, and four copies of a wrong tool would push the right
        one out of a short list.
        """
        scores = self._siblings(self.scores(query), sibling_weight)
        if expansion > 0 and scores.any():
            query_ids = [self._vocab[w] for w in tokenize(query) if w in self._vocab]
            weights = self._feedback.expand(query_ids, scores, expansion)
            scores = self._siblings(self.weighted_scores(weights), sibling_weight)
        return self.copies_last(top_positive(scores, k * COPY_DEPTH))[:k]

    @cached_property
    def _feedback(self) -> Feedback:
        """Built on first use: feedback is off by default (docs/discovery.md)."""
        return Feedback(self._corpus, self._vocab)

    def _siblings(self, scores: np.ndarray, weight: float) -> np.ndarray:
        if weight <= 0:
            return scores
        return with_siblings(scores, self._service_of, self._service_count, weight)

    def copies_last(self, ranked: Sequence[int]) -> list[int]:
        """`ranked` with the copies of tools ranked above them moved to the end."""
        return copies_last(ranked, self._kinds)


class Feedback:
    """Pseudo-relevance feedback (RM3-like): the request borrows words of its best tools.

    A spoken request and the tool it needs often share one word and not the others ("mail the
    summary to Ana" and `send_email`, "recipients, subject, body"); the best-ranked tools'
    own distinctive words, down-weighted, find their siblings and equivalents that the request
    does not name. Each tool's words are weighted by frequency in it times rarity in the set.
    Off by default: measured, it gained recall only through tools sharing no word with the
    request (docs/discovery.md, Multi-step tasks).
    """

    def __init__(self, corpus: Sequence[Sequence[str]], vocab: Mapping[str, int]) -> None:
        self._terms: list[np.ndarray] = []
        self._weights: list[np.ndarray] = []
        self._size = len(vocab)
        if not vocab:
            return
        for doc in corpus:
            ids, counts = np.unique(np.asarray([vocab[w] for w in doc], dtype=np.intp),
                                    return_counts=True)
            self._terms.append(ids)
            self._weights.append(counts / counts.sum())
        df = np.bincount(np.concatenate(self._terms), minlength=self._size)
        idf = np.log(len(corpus) / np.maximum(df, 1))
        self._weights = [w * idf[t] for t, w in zip(self._terms, self._weights, strict=True)]

    def expand(self, query: Sequence[int], scores: np.ndarray, terms: int) -> dict[int, float]:
        """The request's word ids (weight: count) and `terms` borrowed ones (weight < 1)."""
        weights: dict[int, float] = {}
        for term in query:
            weights[term] = weights.get(term, 0.0) + 1.0
        best = top_positive(scores, FEEDBACK_DOCS)
        if not best:
            return weights
        mass = np.zeros(self._size, dtype=np.float64)
        for doc in best:  # a tool lends less the further its score is below the best one
            share = float(np.exp(scores[doc] - scores[best[0]]))
            mass[self._terms[doc]] += share * self._weights[doc]
        mass[list(weights)] = 0.0
        borrowed = top_positive(mass, terms)
        for term in borrowed:
            weights[term] = FEEDBACK_WEIGHT * float(mass[term] / mass[borrowed[0]])
        return weights


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
