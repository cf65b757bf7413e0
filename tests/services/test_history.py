"""Conversation history in real Redis: capped turns, a capped index, a day's expiry."""

from __future__ import annotations

import redis.asyncio as aioredis

from voice_mcp.services.history import MAX_TURNS, RECENT_CONVERSATIONS, TTL_S, HistoryStore, Turn


def turn(n: int) -> Turn:
    return Turn(query=f"q{n}", response=f"a{n}", status="completed", tools=["time.now"],
                timestamp=1_000 + n)


async def test_a_conversation_keeps_its_newest_turns_in_order(redis_client: aioredis.Redis
                                                              ) -> None:
    store = HistoryStore(redis_client)
    for n in range(MAX_TURNS + 3):
        await store.append("alice", "c1", turn(n))
    kept = await store.turns("alice", "c1")
    assert [t.query for t in kept] == [f"q{n}" for n in range(3, MAX_TURNS + 3)]
    assert kept[-1] == turn(MAX_TURNS + 2)
    assert await store.turns("bob", "c1") == []  # another user's conversation of the same id
    keys = [k async for k in redis_client.scan_iter("vm:hist*")]
    assert len(keys) == 2  # the conversation and the user's index
    for key in keys:
        assert TTL_S - 5 <= await redis_client.ttl(key) <= TTL_S


async def test_recent_lists_the_newest_conversations_first(redis_client: aioredis.Redis
                                                           ) -> None:
    store = HistoryStore(redis_client)
    for n in range(RECENT_CONVERSATIONS + 2):
        await store.append("alice", f"c{n}", turn(n))
    recent = await store.recent("alice")
    newest = RECENT_CONVERSATIONS + 1
    assert list(recent) == [f"c{n}" for n in range(newest, 1, -1)]
    assert recent[f"c{newest}"] == [turn(newest)]
