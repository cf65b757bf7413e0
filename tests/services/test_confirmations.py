"""Pending confirmations on a real Redis: single-use, owner-bound, expiring."""

from __future__ import annotations

import asyncio
import json

import pytest
import redis.asyncio as aioredis

from voice_mcp.errors import BadRequest, Conflict, Gone, NotFound
from voice_mcp.services.confirmations import (
    _TAKE_SCRIPT,
    KEY_PREFIX,
    RETAKE_MS,
    ConfirmationStore,
    PendingAction,
    PendingConfirmation,
)


class Clock:
    """A hand-driven clock, so expiry needs no sleeping."""

    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


ACTION = PendingAction(service="calendar", tool="delete_event", arguments={"id": "ev1"},
                       risk="high", reason="deletes data", call_id="call_1")
CONTEXT = {"messages": [{"role": "user", "content": "delete my 3pm"}], "results": []}


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def store(redis_client, clock) -> ConfirmationStore:
    return ConfirmationStore(redis_client, ttl_s=300, tombstone_s=600, clock=clock)


async def test_create_then_take_returns_the_frozen_record(store, clock):
    pending = await store.create("alice", "conv-1", [ACTION], CONTEXT)
    assert len(pending.id) == 32
    assert pending.created_at == 1_700_000_000_000
    assert pending.expires_at == pending.created_at + 300_000
    taken = await store.take("alice", pending.id)
    assert taken == pending
    assert taken.user_id == "alice" and taken.conversation_id == "conv-1"
    assert taken.actions == [ACTION] and taken.context == CONTEXT
    assert taken.to_payload() == {
        "confirmationId": pending.id, "expiresAt": pending.expires_at,
        "actions": [{"service": "calendar", "tool": "delete_event", "arguments": {"id": "ev1"},
                     "risk": "high", "reason": "deletes data"}],
    }


async def test_ids_are_unique_and_unguessable(store):
    ids = {(await store.create("alice", "c", [ACTION])).id for _ in range(50)}
    assert len(ids) == 50
    assert all(len(i) == 32 for i in ids)  # 24 random bytes, base64url


async def test_the_stored_value_is_bound_to_user_and_conversation(store, redis_client):
    pending = await store.create("alice", "conv-9", [ACTION], CONTEXT)
    record = json.loads(await redis_client.get(f"{KEY_PREFIX}{{{pending.id}}}"))
    assert record["user_id"] == "alice" and record["conversation_id"] == "conv-9"
    assert record["actions"][0]["arguments"] == {"id": "ev1"}
    state = await redis_client.hgetall(f"{KEY_PREFIX}{{{pending.id}}}:state")
    assert state[b"user"] == b"alice"
    assert 300 < await redis_client.ttl(f"{KEY_PREFIX}{{{pending.id}}}:state") <= 900


async def test_reuse_is_a_conflict(store):
    pending = await store.create("alice", "c", [ACTION])
    await store.take("alice", pending.id)
    with pytest.raises(Conflict) as err:
        await store.take("alice", pending.id)
    assert (err.value.code, err.value.status) == ("confirmation_used", 409)


async def test_taking_drops_the_arguments_soon(store, redis_client):
    pending = await store.create("alice", "c", [ACTION])
    await store.take("alice", pending.id)
    assert 0 < await redis_client.pttl(f"{KEY_PREFIX}{{{pending.id}}}") <= RETAKE_MS


async def test_a_take_sent_again_gets_the_record_and_no_other_take_does(store, redis_client):
    """A client retry after a reply lost to a failover carries the same take id."""
    pending = await store.create("alice", "c", [ACTION])
    script = redis_client.register_script(_TAKE_SCRIPT)
    keys = [f"{KEY_PREFIX}{{{pending.id}}}:state", f"{KEY_PREFIX}{{{pending.id}}}"]
    now = int(Clock()() * 1000)
    first, again = [await script(keys=keys, args=["alice", now, 60_000, "take-1", RETAKE_MS])
                    for _ in range(2)]
    assert first == again and first[0] == b"ok"
    assert PendingConfirmation.model_validate_json(again[1]).id == pending.id
    other = await script(keys=keys, args=["alice", now, 60_000, "take-2", RETAKE_MS])
    assert other == [b"used"]
    with pytest.raises(Conflict):
        await store.take("alice", pending.id)


async def test_expired_is_gone_and_stays_gone(store, clock):
    pending = await store.create("alice", "c", [ACTION])
    just_in_time = await store.create("alice", "c", [ACTION])
    clock.now += 299.999
    assert (await store.take("alice", just_in_time.id)).id == just_in_time.id
    clock.now += 0.001
    with pytest.raises(Gone) as err:
        await store.take("alice", pending.id)
    assert (err.value.code, err.value.status) == ("confirmation_expired", 410)
    with pytest.raises(Gone):
        await store.take("alice", pending.id)


async def test_expiry_by_redis_ttl_alone_is_gone(redis_client, clock):
    store = ConfirmationStore(redis_client, ttl_s=300, clock=clock)
    pending = await store.create("alice", "c", [ACTION])
    # The record key's TTL ran out while the app's clock lags: still 410, not 404.
    await redis_client.delete(f"{KEY_PREFIX}{{{pending.id}}}")
    with pytest.raises(Gone):
        await store.take("alice", pending.id)


async def test_another_users_id_is_not_found_and_not_consumed(store):
    pending = await store.create("alice", "c", [ACTION])
    with pytest.raises(NotFound) as err:
        await store.take("mallory", pending.id)
    assert err.value.status == 404
    assert (await store.take("alice", pending.id)).id == pending.id
    with pytest.raises(NotFound):  # used: still indistinguishable from unknown for others
        await store.take("mallory", pending.id)


async def test_another_users_expired_id_is_not_found(store, clock):
    pending = await store.create("alice", "c", [ACTION])
    clock.now += 301
    with pytest.raises(NotFound):
        await store.take("mallory", pending.id)


async def test_unknown_id_is_not_found(store):
    with pytest.raises(NotFound) as err:
        await store.take("alice", "A" * 32)
    assert (err.value.code, err.value.status) == ("confirmation_not_found", 404)


@pytest.mark.parametrize("bad", ["", "short", "A" * 31, "A" * 33, "A" * 31 + "!",
                                 "A" * 31 + "=", "../" + "A" * 29, "A" * 31 + "\n",
                                 "A" * 32 + "\n", "é" * 32])
async def test_malformed_id_is_bad_request(store, bad):
    with pytest.raises(BadRequest) as err:
        await store.take("alice", bad)
    assert err.value.status == 400



async def test_twenty_concurrent_takes_succeed_once(store):
    pending = await store.create("alice", "c", [ACTION])
    outcomes = await asyncio.gather(*(store.take("alice", pending.id) for _ in range(20)),
                                    return_exceptions=True)
    wins = [o for o in outcomes if isinstance(o, PendingConfirmation)]
    assert len(wins) == 1
    assert all(isinstance(o, Conflict) for o in outcomes if o not in wins)


async def test_two_clients_race_and_one_wins(redis_url, clock):
    first, second = aioredis.Redis.from_url(redis_url), aioredis.Redis.from_url(redis_url)
    try:
        a = ConfirmationStore(first, ttl_s=300, clock=clock)
        b = ConfirmationStore(second, ttl_s=300, clock=clock)
        for _ in range(10):
            pending = await a.create("alice", "c", [ACTION])
            takes = [s.take("alice", pending.id) for s in (a, b) for _ in range(5)]
            outcomes = await asyncio.gather(*takes, return_exceptions=True)
            assert sum(isinstance(o, PendingConfirmation) for o in outcomes) == 1
            assert sum(isinstance(o, Conflict) for o in outcomes) == 9
    finally:
        await first.aclose()
        await second.aclose()


async def test_create_needs_actions(store):
    with pytest.raises(ValueError):
        await store.create("alice", "c", [])


def test_ttl_must_be_positive(redis_client):
    with pytest.raises(ValueError):
        ConfirmationStore(redis_client, ttl_s=0)
