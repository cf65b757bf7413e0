"""Rank a tool set for a request: BM25 step by step, fused with embeddings when configured."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final, Protocol

from voice_mcp.services.tool_index.clauses import split_clauses
from voice_mcp.services.tool_index.index import ToolIndex

log = logging.getLogger(__name__)

RRF_K: Final = 60  # the constant of reciprocal rank fusion (Cormack et al., 2009)
CANDIDATES: Final = 100  # how deep each ranking goes before fusion
SIBLING_WEIGHT: Final = 0.5  # share of a service's best score each of its tools gets


class SemanticRanker(Protocol):
    """Anything that ranks an index's tools by meaning (embeddings)."""

    async def rank(self, index: ToolIndex, query: str, k: int) -> list[int]: ...


@dataclass(frozen=True)
class RankingOptions:
    """How lexical ranking treats a request (docs/discovery.md, Ranking)."""

    # Rank each step of a multi-step request on its own, then interleave. Off: measured on
    # the multi-step tasks it lost recall (docs/discovery.md); kept for the evaluation.
    clauses: bool = False
    sibling_weight: float = SIBLING_WEIGHT  # 0: a tool is ranked by its own words only


def fuse(rankings: Sequence[Sequence[int]], k: int) -> list[int]:
    """Reciprocal rank fusion: robust to the two scores living on different scales."""
    score: dict[int, float] = {}
    for ranking in rankings:
        for rank, position in enumerate(ranking):
            score[position] = score.get(position, 0.0) + 1.0 / (RRF_K + rank + 1)
    return sorted(score, key=lambda p: (-score[p], p))[:k]


def interleave(rankings: Sequence[Sequence[int]], k: int) -> list[int]:
    """Round robin over the rankings, each tool once: every step gets its best tools in."""
    out: dict[int, None] = {}
    for depth in range(max((len(r) for r in rankings), default=0)):
        for ranking in rankings:
            if depth < len(ranking):
                out.setdefault(ranking[depth])
                if len(out) >= k:
                    return list(out)
    return list(out)


class ToolRanker:
    """The best tools of an index for a request; a failing embedding server falls back to BM25."""

    def __init__(self, semantic: SemanticRanker | None = None,
                 options: RankingOptions | None = None) -> None:
        self._semantic = semantic
        self.options = options or RankingOptions()

    def lexical(self, index: ToolIndex, query: str, k: int) -> list[int]:
        """BM25 for the whole request and for each of its steps, interleaved."""
        queries = [query, *split_clauses(query)] if self.options.clauses else [query]
        rankings = [index.rank(q, k, self.options.sibling_weight) for q in queries]
        if len(rankings) == 1:
            return rankings[0]
        return index.copies_last(interleave(rankings, k))

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
