"""Conversation history: the last turns of each conversation, per user, in Redis for a day."""

from __future__ import annotations

import time
from typing import Any

from pydantic import BaseModel, Field

from voice_mcp.services.keyspace import user_tagged_key
from voice_mcp.services.store import Redis

MAX_TURNS = 10
TTL_S = 24 * 3600
RECENT_CONVERSATIONS = 20

# KEYS: the conversation's list, the user's index (one hash tag: the user's). ARGV: the turn
# (JSON), turns kept, TTL s, conversation id, timestamp ms, conversations kept. One command and
# one reply instead of a MULTI/EXEC of six: the same atomic write in one round trip for about
# half of redis-py's CPU, and it runs before every command's done event. A client retry after a
# lost reply finds the turn already last and does not add it twice.
APPEND_SCRIPT = """
if redis.call('LINDEX', KEYS[1], -1) ~= ARGV[1] then redis.call('RPUSH', KEYS[1], ARGV[1]) end
redis.call('LTRIM', KEYS[1], -tonumber(ARGV[2]), -1)
redis.call('EXPIRE', KEYS[1], ARGV[3])
redis.call('ZADD', KEYS[2], ARGV[5], ARGV[4])
redis.call('ZREMRANGEBYRANK', KEYS[2], 0, -tonumber(ARGV[6]) - 1)
redis.call('EXPIRE', KEYS[2], ARGV[3])
return 1
"""


class Turn(BaseModel):
    """One finished command: what was asked, what happened, what was answered."""

    query: str
    response: str
    status: str
    tools: list[str] = Field(default_factory=list)
    timestamp: int = Field(default_factory=lambda: int(time.time() * 1000))

    def as_messages(self) -> list[dict[str, Any]]:
        """The turn as chat messages the LLM can read as context."""
        answer = self.response
        if self.tools:
            answer = f"{answer}\n(tools used: {', '.join(self.tools)})"
        return [{"role": "user", "content": self.query}, {"role": "assistant", "content": answer}]


class HistoryStore:
    """Turns kept as a capped Redis list per (user, conversation); a user sees only theirs."""

    def __init__(self, redis: Redis) -> None:
        self._redis = redis
        self._append = redis.register_script(APPEND_SCRIPT)

    @staticmethod
    def _key(user_id: str, conversation_id: str) -> str:
        return user_tagged_key("vm:hist", user_id, conversation_id)

    @staticmethod
    def _index_key(user_id: str) -> str:
        return user_tagged_key("vm:hist-index", user_id)

    async def append(self, user_id: str, conversation_id: str, turn: Turn) -> None:
        """Add a turn, keep the newest MAX_TURNS, refresh the day-long expiry."""
        await self._append(keys=[self._key(user_id, conversation_id), self._index_key(user_id)],
                           args=[turn.model_dump_json(), MAX_TURNS, TTL_S, conversation_id,
                                 turn.timestamp, RECENT_CONVERSATIONS])

    async def turns(self, user_id: str, conversation_id: str) -> list[Turn]:
        """The conversation's turns, oldest first."""
        raw = await self._redis.lrange(self._key(user_id, conversation_id), 0, -1)
        return [Turn.model_validate_json(item) for item in raw]

    async def recent(self, user_id: str) -> dict[str, list[Turn]]:
        """The user's recent conversations, newest first, each with its turns."""
        ids = await self._redis.zrevrange(self._index_key(user_id), 0, RECENT_CONVERSATIONS - 1)
        result: dict[str, list[Turn]] = {}
        for raw_id in ids:
            conversation_id = raw_id.decode() if isinstance(raw_id, bytes) else str(raw_id)
            turns = await self.turns(user_id, conversation_id)
            if turns:
                result[conversation_id] = turns
        return result
