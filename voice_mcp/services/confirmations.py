"""Pending confirmations of risky actions, kept in Redis so any app instance can approve them.

Each confirmation is two keys sharing one hash tag (so a Lua script may touch both, on a
cluster too):

- `...:{id}`: the frozen record as JSON, living for the TTL only (and RETAKE_MS once taken,
  for a retry of that take), so the arguments of an action nobody approved do not linger;
- `...:{id}:state`: a small hash (owner, expiry, used-at) that outlives the record by
  `tombstone_s`, so a reused id answers 409 and an expired one 410 rather than 404.

Taking one runs a single Lua script: the owner check, the expiry check (against
`expires_at` and the caller's clock, not only the Redis TTL) and marking it used happen
atomically, so two approvals of one id, from any number of clients, succeed exactly once.
Another user's id behaves exactly like an unknown one, and does not consume it. On a Redis
Cluster both scripts wait for a replica to hold their writes (`store.replicated`), so a
failover cannot forget a confirmation or its use (docs/operations.md, "Redis Cluster").
"""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import Callable, Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from redis.exceptions import RedisError

from voice_mcp.errors import BadRequest, Conflict, Gone, NotFound, ServiceUnavailable
from voice_mcp.services import tracing
from voice_mcp.services.catalog import RiskLevel
from voice_mcp.services.store import Redis, replicated

__all__ = [
    "ConfirmationStore",
    "PendingAction",
    "PendingConfirmation",
    "new_confirmation_id",
]

KEY_PREFIX = "voice-mcp:confirmation:"
ID_BYTES = 24  # 192 bits of randomness
ID_PATTERN = re.compile(r"[A-Za-z0-9_-]{32}")  # token_urlsafe(24) is 32 characters
DEFAULT_TOMBSTONE_S = 3600

RETAKE_MS = 15_000  # how long a taken record stays for a retry of the same take

# KEYS: state hash, record. ARGV: user id, expires at (ms), state life (ms), record JSON, TTL
# (ms). A script rather than MULTI so that, on a cluster, WAIT can follow it on its connection.
_CREATE_SCRIPT = """
redis.call('HSET', KEYS[1], 'user', ARGV[1], 'expires_at', ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
redis.call('SET', KEYS[2], ARGV[4], 'PX', ARGV[5])
return 1
"""

# KEYS: state hash, record (one hash tag: the id). ARGV: user id, now (ms), tombstone life
# (ms), the take's own random id, RETAKE_MS. A take the client sends again (its reply was lost
# to a failover) carries the same take id and gets the record again; any other take of a used
# id gets 'used'.
_TAKE_SCRIPT = """
local state = redis.call('HMGET', KEYS[1], 'user', 'expires_at', 'used_at', 'used_by')
if not state[1] or state[1] ~= ARGV[1] then
  return {'missing'}
end
if state[3] then
  local again = state[4] == ARGV[4] and redis.call('GET', KEYS[2])
  if again then return {'ok', again} end
  return {'used'}
end
local record = redis.call('GET', KEYS[2])
if not record or tonumber(state[2]) <= tonumber(ARGV[2]) then
  redis.call('DEL', KEYS[2])
  return {'expired'}
end
redis.call('HSET', KEYS[1], 'used_at', ARGV[2], 'used_by', ARGV[4])
redis.call('PEXPIRE', KEYS[2], ARGV[5])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return {'ok', record}
"""


class PendingAction(BaseModel):
    """One tool call held for approval, frozen exactly as it will run."""

    model_config = ConfigDict(frozen=True)

    service: str
    tool: str
    arguments: dict[str, Any] = Field(default_factory=dict)
    risk: RiskLevel
    reason: str
    call_id: str  # the LLM's tool-call id, so the result can be fed back to it

    def to_payload(self) -> dict[str, Any]:
        """Shape the action as the done payload shows it (docs/api.md) (no internal call id)."""
        return {"service": self.service, "tool": self.tool, "arguments": self.arguments,
                "risk": self.risk, "reason": self.reason}


class PendingConfirmation(BaseModel):
    """Actions awaiting one user's approval, bound to their conversation."""

    model_config = ConfigDict(frozen=True)

    id: str
    user_id: str
    conversation_id: str
    actions: list[PendingAction]
    created_at: int  # epoch ms
    expires_at: int  # epoch ms
    context: dict[str, Any] = Field(default_factory=dict)  # opaque state to resume the LLM loop
    trace: dict[str, str] = Field(default_factory=dict)  # W3C context of the holding command

    def to_payload(self) -> dict[str, Any]:
        """Shape the `confirmation` object of the done payload (docs/api.md)."""
        return {"confirmationId": self.id, "expiresAt": self.expires_at,
                "actions": [a.to_payload() for a in self.actions]}


def new_confirmation_id() -> str:
    """Make an unguessable id (192 random bits, URL-safe)."""
    return secrets.token_urlsafe(ID_BYTES)


def _keys(confirmation_id: str) -> tuple[str, str]:
    base = f"{KEY_PREFIX}{{{confirmation_id}}}"
    return f"{base}:state", base


class ConfirmationStore:
    """Create and redeem pending confirmations; single-use and owner-bound."""

    def __init__(self, redis: Redis, ttl_s: float, *,
                 tombstone_s: float = DEFAULT_TOMBSTONE_S,
                 clock: Callable[[], float] = time.time) -> None:
        if ttl_s <= 0 or tombstone_s <= 0:
            raise ValueError("ttl_s and tombstone_s must be positive")
        self._redis = redis
        self._ttl_ms = int(ttl_s * 1000)
        self._tombstone_ms = int(tombstone_s * 1000)
        self._clock = clock
        self._script = redis.register_script(_TAKE_SCRIPT)
        self._create = redis.register_script(_CREATE_SCRIPT)

    def _now_ms(self) -> int:
        return int(self._clock() * 1000)

    async def create(self, user_id: str, conversation_id: str,
                     actions: Sequence[PendingAction],
                     context: dict[str, Any] | None = None) -> PendingConfirmation:
        """Freeze the actions under a new id that only this user can redeem, once."""
        if not user_id or not actions:
            raise ValueError("a confirmation needs a user and at least one action")
        now = self._now_ms()
        pending = PendingConfirmation(
            id=new_confirmation_id(), user_id=user_id, conversation_id=conversation_id,
            actions=list(actions), created_at=now, expires_at=now + self._ttl_ms,
            context=context or {}, trace=tracing.carrier(),
        )
        try:
            await replicated(self._redis, self._create, list(_keys(pending.id)), [
                user_id, pending.expires_at, self._ttl_ms + self._tombstone_ms,
                pending.model_dump_json(), self._ttl_ms])
        except RedisError as err:
            raise ServiceUnavailable("Could not store the confirmation.", code="redis_unavailable",
                                     retry_after=5) from err
        return pending

    async def take(self, user_id: str, confirmation_id: str) -> PendingConfirmation:
        """Redeem a confirmation atomically; a second take of the same id fails with 409."""
        if not isinstance(confirmation_id, str) or not ID_PATTERN.fullmatch(confirmation_id):
            raise BadRequest("The confirmation id is malformed.", code="invalid_confirmation_id")
        try:
            reply = await replicated(
                self._redis, self._script, list(_keys(confirmation_id)),
                [user_id, self._now_ms(), self._tombstone_ms, secrets.token_hex(8), RETAKE_MS])
        except RedisError as err:
            raise ServiceUnavailable("Could not read the confirmation.", code="redis_unavailable",
                                     retry_after=5) from err
        outcome = reply[0].decode() if isinstance(reply[0], bytes) else str(reply[0])
        if outcome == "used":
            raise Conflict("This confirmation was already used.", code="confirmation_used")
        if outcome == "expired":
            raise Gone("This confirmation has expired.", code="confirmation_expired")
        if outcome != "ok":
            raise _not_found()
        try:
            pending = PendingConfirmation.model_validate_json(reply[1])
        except ValidationError:
            raise _not_found() from None
        if pending.user_id != user_id or pending.id != confirmation_id:
            raise _not_found()
        return pending


def _not_found() -> NotFound:
    return NotFound("No such confirmation.", code="confirmation_not_found")
