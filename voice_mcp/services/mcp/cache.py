"""Tool lists cached in this process and in Redis, so a warm discovery costs no MCP traffic."""

from __future__ import annotations

import json
import logging
import secrets
import time
from dataclasses import dataclass

from pydantic import TypeAdapter
from redis.exceptions import RedisError

from voice_mcp.services.catalog import ServiceConfig
from voice_mcp.services.keyspace import user_key
from voice_mcp.services.mcp.models import ToolInfo
from voice_mcp.services.sealing import RecordSigner
from voice_mcp.services.store import Redis

log = logging.getLogger(__name__)

_TOOLS = TypeAdapter(list[ToolInfo])


@dataclass(frozen=True)
class CacheKey:
    """Whose tool list: a shared service's (user None) or one user's view of an OAuth service."""

    service_id: str
    user_id: str | None

    @classmethod
    def of(cls, service: ServiceConfig, user_id: str) -> CacheKey:
        return cls(service.id, None if service.is_shared else user_id)

    @property
    def redis_key(self) -> str:
        base = f"vm:mcp-tools:{self.service_id}"
        return base if self.user_id is None else user_key(base, self.user_id)


@dataclass(frozen=True)
class _Entry:
    tools: list[ToolInfo]
    stored_at: float


class ToolCache:
    """In-process entries in front of Redis ones.

    Redis keeps a listing `ttl_s`; this process re-reads Redis after `local_ttl_s` so an
    invalidation by another replica reaches it soon, without any MCP traffic. A generation
    per key guards against a listing that started before an invalidation
    landing after it and resurrecting the stale list.
    """

    def __init__(self, redis: Redis, ttl_s: int, local_ttl_s: float = 60.0, *,
                 signer: RecordSigner | None = None) -> None:
        self._redis = redis
        # Annotations decide risk: a list read back must be one this deployment stored.
        self._signer = signer or RecordSigner(secrets.token_bytes(32))
        self._ttl_s = ttl_s
        self._local_ttl_s = min(local_ttl_s, ttl_s)
        self._local: dict[CacheKey, _Entry] = {}
        self._generations: dict[CacheKey, int] = {}
        self._unsynced: set[CacheKey] = set()  # forgotten here, not yet deleted in Redis

    def generation(self, key: CacheKey) -> int:
        return self._generations.get(key, 0)

    async def get(self, key: CacheKey) -> list[ToolInfo] | None:
        """The cached list, from memory or else from Redis; None when neither has it."""
        entry = self._local.get(key)
        if entry is not None and time.monotonic() - entry.stored_at < self._local_ttl_s:
            return entry.tools
        if key in self._unsynced:
            return None
        generation = self.generation(key)
        tools = await self._read_redis(key)
        if tools is not None and generation == self.generation(key):
            self._remember(key, tools)
        return tools

    async def put(self, key: CacheKey, tools: list[ToolInfo], generation: int) -> None:
        """Store a fresh listing, unless the key was invalidated since it was requested."""
        if generation != self.generation(key):
            return
        self._remember(key, tools)
        payload = json.dumps([t.model_dump(mode="json") for t in tools]).encode()
        try:
            await self._redis.set(key.redis_key, self._signer.seal(key.redis_key, payload),
                                  ex=self._ttl_s)
        except RedisError as err:
            log.warning("tool cache write failed", extra={"error_type": type(err).__name__})

    def forget_local(self, key: CacheKey) -> None:
        """Drop the in-process entry now; `invalidate` finishes the job in Redis."""
        self._generations[key] = self.generation(key) + 1
        self._local.pop(key, None)
        self._unsynced.add(key)

    async def invalidate(self, key: CacheKey) -> None:
        """Forget a listing here and in Redis (the tools changed, or the session was re-opened)."""
        self.forget_local(key)
        try:
            await self._redis.delete(key.redis_key)
        except RedisError as err:
            log.warning("tool cache delete failed", extra={"error_type": type(err).__name__})
        finally:
            self._unsynced.discard(key)

    def _remember(self, key: CacheKey, tools: list[ToolInfo]) -> None:
        self._local[key] = _Entry(tools, time.monotonic())

    async def _read_redis(self, key: CacheKey) -> list[ToolInfo] | None:
        try:
            raw = await self._redis.get(key.redis_key)
        except RedisError as err:
            log.warning("tool cache read failed", extra={"error_type": type(err).__name__})
            return None
        if raw is None:
            return None
        payload = self._signer.open(key.redis_key, raw if isinstance(raw, bytes) else raw.encode())
        try:
            if payload is None:
                raise ValueError("not sealed by this deployment")
            tools = _TOOLS.validate_json(payload)
            if any(t.service != key.service_id for t in tools):
                raise ValueError("tools of another service")
        except ValueError:  # pydantic's ValidationError included
            log.warning("ignoring a cached tool list that fails its checks",
                        extra={"key": key.redis_key})
            return None
        return tools
