"""Rank tools by embedding similarity; tool vectors cached in Redis per tool content hash."""

from __future__ import annotations

import hashlib
import logging
from collections import OrderedDict
from typing import Final

import numpy as np
import openai
from redis.exceptions import RedisError

from voice_mcp.services.store import Redis
from voice_mcp.services.tool_index.documents import embedding_text
from voice_mcp.services.tool_index.index import ToolIndex, top_positive

log = logging.getLogger(__name__)

BATCH: Final = 128  # inputs per embeddings request
TTL_S: Final = 30 * 24 * 3600
MAX_QUERY_CHARS: Final = 1000


class Embedder:
    """Embeds through any OpenAI-compatible `/embeddings` endpoint (the LLM's server).

    A tool's vector depends only on its content and the model, so it is kept in Redis under
    both hashes and shared by every user, replica and tool-set version that contains it.
    """

    def __init__(self, client: openai.AsyncOpenAI, model: str, redis: Redis,
                 max_versions: int = 16) -> None:
        self._client = client
        self._model = model
        self._redis = redis
        self._model_key = hashlib.sha256(model.encode()).hexdigest()[:12]
        self._matrices: OrderedDict[str, np.ndarray] = OrderedDict()
        self._max_versions = max_versions
        self.requests = 0  # embeddings requests sent, for tests

    async def rank(self, index: ToolIndex, query: str, k: int) -> list[int]:
        """Positions of the `k` tools most similar to the query, best first."""
        matrix = await self._matrix(index)
        [vector] = await self._embed([query[:MAX_QUERY_CHARS]])
        return top_positive(matrix @ _unit(vector), k)

    async def _matrix(self, index: ToolIndex) -> np.ndarray:
        """The unit vectors of an index's tools, one row per tool, built once per version."""
        matrix = self._matrices.get(index.version)
        if matrix is not None:
            self._matrices.move_to_end(index.version)
            return matrix
        vectors = await self._cached(list(index.hashes))
        missing = [i for i, v in enumerate(vectors) if v is None]
        for start in range(0, len(missing), BATCH):
            chunk = missing[start:start + BATCH]
            texts = [embedding_text(index.tools[i], index.titles.get(index.tools[i].service, ""))
                     for i in chunk]
            fresh = await self._embed(texts)
            for i, vector in zip(chunk, fresh, strict=True):
                vectors[i] = vector
            await self._store([index.hashes[i] for i in chunk], fresh)
        matrix = np.vstack([_unit(v) for v in vectors if v is not None]).astype(np.float32)
        self._matrices[index.version] = matrix
        if len(self._matrices) > self._max_versions:
            self._matrices.popitem(last=False)
        return matrix

    async def _embed(self, texts: list[str]) -> list[np.ndarray]:
        self.requests += 1
        answer = await self._client.embeddings.create(model=self._model, input=texts)
        rows = sorted(answer.data, key=lambda d: d.index)
        if len(rows) != len(texts):
            raise ValueError("the embeddings server answered a different number of vectors")
        return [np.asarray(r.embedding, dtype=np.float32) for r in rows]

    def _key(self, content_hash: str) -> str:
        # One hash tag per model: the MGET of an index's vectors stays in one cluster slot.
        return f"vm:tool-emb:{{{self._model_key}}}:{content_hash}"

    async def _cached(self, hashes: list[str]) -> list[np.ndarray | None]:
        try:
            raw = await self._redis.mget([self._key(h) for h in hashes])
        except RedisError as err:
            log.warning("embedding cache read failed", extra={"error_type": type(err).__name__})
            return [None] * len(hashes)
        return [np.frombuffer(r, dtype=np.float32) if isinstance(r, bytes) else None for r in raw]

    async def _store(self, hashes: list[str], vectors: list[np.ndarray]) -> None:
        try:
            async with self._redis.pipeline(transaction=False) as pipe:
                for content_hash, vector in zip(hashes, vectors, strict=True):
                    pipe.set(self._key(content_hash), vector.astype(np.float32).tobytes(),
                             ex=TTL_S)
                await pipe.execute()
        except RedisError as err:
            log.warning("embedding cache write failed", extra={"error_type": type(err).__name__})


def _unit(vector: np.ndarray) -> np.ndarray:
    norm = float(np.linalg.norm(vector))
    return vector / norm if norm > 0 else vector
