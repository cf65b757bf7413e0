"""Rank a tool set for a query: BM25 alone, or fused with embeddings when configured."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Final, Protocol

from voice_mcp.services.tool_index.index import ToolIndex

log = logging.getLogger(__name__)

RRF_K: Final = 60  # the constant of reciprocal rank fusion (Cormack et al., 2009)
CANDIDATES: Final = 100  # how deep each ranking goes before fusion


class SemanticRanker(Protocol):
    """Anything that ranks an index's tools by meaning (embeddings)."""

    async def rank(self, index: ToolIndex, query: str, k: int) -> list[int]: ...


def fuse(rankings: Sequence[Sequence[int]], k: int) -> list[int]:
    """Reciprocal rank fusion: robust to the two scores living on different scales."""
    score: dict[int, float] = {}
    for ranking in rankings:
        for rank, position in enumerate(ranking):
            score[position] = score.get(position, 0.0) + 1.0 / (RRF_K + rank + 1)
    return sorted(score, key=lambda p: (-score[p], p))[:k]


class ToolRanker:
    """The best tools of an index for a query; a failing embedding server falls back to BM25."""

    def __init__(self, semantic: SemanticRanker | None = None) -> None:
        self._semantic = semantic

    async def rank(self, index: ToolIndex, query: str, k: int) -> list[int]:
        """Positions in `index.tools` of the best `k` tools, best first."""
        lexical = index.rank(query, max(k, CANDIDATES) if self._semantic else k)
        if self._semantic is None:
            return lexical
        try:
            semantic = await self._semantic.rank(index, query, max(k, CANDIDATES))
        except Exception as err:  # ranking is an optimisation; the command must go on
            log.warning("embedding ranking failed; using lexical only",
                        extra={"error_type": type(err).__name__})
            return lexical[:k]
        return fuse([lexical, semantic], k)
