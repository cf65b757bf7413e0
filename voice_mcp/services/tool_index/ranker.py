"""Rank a tool set for a request: BM25 step by step, fused with embeddings when configured."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final, Protocol

from voice_mcp.services.tool_index.clauses import split_clauses
from voice_mcp.services.tool_index.index import ToolIndex
from voice_mcp.services.tool_index.tokens import tokenize

log = logging.getLogger(__name__)

RRF_K: Final = 60  # the constant of reciprocal rank fusion (Cormack et al., 2009)
CANDIDATES: Final = 100  # how deep each ranking goes before fusion
SIBLING_WEIGHT: Final = 0.5  # share of a service's best score each of its tools gets
# Words borrowed from the best-ranked tools (pseudo-relevance feedback) when it is on.
FEEDBACK_TERMS: Final = 5
STEP_QUOTA: Final = 3  # best tools of each step of a request placed first
STEP_MIN_WORDS: Final = 2  # a shorter step ("chart it") ranks noise; it gets no quota


class SemanticRanker(Protocol):
    """Anything that ranks an index's tools by meaning (embeddings)."""

    async def rank(self, index: ToolIndex, query: str, k: int) -> list[int]: ...


@dataclass(frozen=True)
class RankingOptions:
    """How lexical ranking treats a request (docs/discovery.md, Ranking)."""

    # Each step of a multi-step request of >= STEP_MIN_WORDS ranking words gets its best
    # `step_quota` tools first, then the whole request's ranking fills the rest.
    clauses: bool = True
    sibling_weight: float = SIBLING_WEIGHT  # 0: a tool is ranked by its own words only
    # Pseudo-relevance feedback: off. It gained recall only by offering tools that share no word
    # with the request (docs/discovery.md); kept for the evaluation (FEEDBACK_TERMS words).
    expansion: int = 0
    step_quota: int = STEP_QUOTA


def fuse(rankings: Sequence[Sequence[int]], k: int) -> list[int]:
    """Reciprocal rank fusion: robust to the two scores living on different scales."""
    score: dict[int, float] = {}
    for ranking in rankings:
        for rank, position in enumerate(ranking):
            score[position] = score.get(position, 0.0) + 1.0 / (RRF_K + rank + 1)
    return sorted(score, key=lambda p: (-score[p], p))[:k]


def steps(query: str) -> list[str]:
    """The steps of a request that rank on their own: >= STEP_MIN_WORDS ranking words."""
    return [s for s in split_clauses(query) if len(tokenize(s)) >= STEP_MIN_WORDS]


class ToolRanker:
    """The best tools of an index for a request; a failing embedding server falls back to BM25."""

    def __init__(self, semantic: SemanticRanker | None = None,
                 options: RankingOptions | None = None) -> None:
        self._semantic = semantic
        self.options = options or RankingOptions()

    def lexical(self, index: ToolIndex, query: str, k: int) -> list[int]:
        """The best few tools of each step of the request, then the whole request's best."""
        opts = self.options
        whole = index.rank(query, k, opts.sibling_weight, opts.expansion)
        if not opts.clauses or opts.step_quota <= 0:
            return whole
        first = dict.fromkeys(p for step in steps(query)
                              for p in index.rank(step, opts.step_quota, opts.sibling_weight,
                                                  opts.expansion))
        if not first:
            return whole
        return index.copies_last([*first, *(p for p in whole if p not in first)])[:k]

    async def rank(self, index: ToolIndex, query: str, k: int) -> list[int]:
        """Positions in `index.tools` of the best `k` tools, best first."""
        lexical = self.lexical(index, query, max(k, CANDIDATES) if self._semantic else k)
        if self._semantic is None:
            return lexical
        try:
            semantic = await self._semantic.rank(index, query, max(k, CANDIDATES))
        except Exception as err:  # ranking is an optimisation; the command must go on
            log.warning("embedding ranking failed; using lexical only",
                        extra={"error_type": type(err).__name__})
            return lexical[:k]
        return fuse([lexical, semantic], k)
