"""ToolOffering: which of a user's tools one command offers the LLM, and `search_tools`."""

from __future__ import annotations

import asyncio
from collections.abc import Collection, Mapping, Sequence

import openai

from voice_mcp.services.mcp.models import ToolInfo
from voice_mcp.services.store import Redis
from voice_mcp.services.tool_index.cache import ToolIndexCache
from voice_mcp.services.tool_index.embeddings import Embedder
from voice_mcp.services.tool_index.index import ToolIndex
from voice_mcp.services.tool_index.offer import SEARCH_RESULTS, Offer, choose_offer
from voice_mcp.services.tool_index.ranker import ToolRanker

INLINE_BUILD_MAX = 200  # smaller tool sets are indexed on the loop; larger ones in a thread


class ToolOffering:
    """Offer every tool within the budget; past it, the pinned and the best-ranked ones.

    Indexes are per tool-set version (see ToolIndexCache); a large one is built in a worker
    thread so other commands' streams keep flowing while it is built, once, however many
    commands wait for it.
    """

    def __init__(self, budget: int, *, titles: Mapping[str, str] | None = None,
                 ranker: ToolRanker | None = None, client: openai.AsyncOpenAI | None = None
                 ) -> None:
        self.budget = budget
        self._titles = dict(titles or {})
        self._ranker = ranker or ToolRanker()
        self._client = client
        self.indexes = ToolIndexCache()
        self._building: dict[tuple[int, ...], asyncio.Task[ToolIndex]] = {}

    @classmethod
    def with_embeddings(cls, budget: int, titles: Mapping[str, str], client: openai.AsyncOpenAI,
                        model: str, redis: Redis) -> ToolOffering:
        """Rank by BM25 fused with embeddings from `client` (closed with this object)."""
        ranker = ToolRanker(Embedder(client, model, redis))
        return cls(budget, titles=titles, ranker=ranker, client=client)

    async def offer(self, tools: Sequence[ToolInfo], query: str,
                    pinned: Collection[str] = ()) -> Offer:
        """The tools for this query; `pinned` (`service.tool` names) come first past the budget."""
        if len(tools) <= self.budget:
            return choose_offer(tools, (), self.budget)
        index = await self.index(tools)
        ranked = await self._ranker.rank(index, query, self.budget)
        first = [t for t in index.tools if t.qualified_name in pinned]
        return choose_offer(index.tools, ranked, self.budget, first)

    async def search(self, tools: Sequence[ToolInfo], query: str,
                     exclude: Collection[tuple[str, str]] = ()) -> list[ToolInfo]:
        """The best tools for a `search_tools` query, leaving out those already offered."""
        index = await self.index(tools)
        ranked = await self._ranker.rank(index, query, SEARCH_RESULTS + len(exclude))
        found = [index.tools[i] for i in ranked
                 if (index.tools[i].service, index.tools[i].name) not in exclude]
        return found[:SEARCH_RESULTS]

    async def index(self, tools: Sequence[ToolInfo]) -> ToolIndex:
        """The index of this tool list: cached, or built once (in a thread when large)."""
        found = self.indexes.peek(tools)
        if found is not None:
            return found
        if len(tools) <= INLINE_BUILD_MAX:
            return self.indexes.get(tools, self._titles)
        key = tuple(map(id, tools))
        task = self._building.get(key)
        if task is None:
            task = asyncio.create_task(
                asyncio.to_thread(self.indexes.get, tuple(tools), self._titles))
            self._building[key] = task
            task.add_done_callback(lambda _: self._building.pop(key, None))
        # Shielded: one command giving up must not cancel the build the others wait for.
        return await asyncio.shield(task)

    async def close(self) -> None:
        """Close the embeddings client, if this object made one."""
        if self._client is not None:
            await self._client.close()
