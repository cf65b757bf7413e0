"""Redis storage of grants, clients, pending authorizations and discovery results.

Everything secret (tokens, client secrets, PKCE verifiers) is encrypted before it reaches
Redis; the state value itself is only stored as a hash, so a Redis dump cannot replay it.
"""

from __future__ import annotations

import hashlib
import logging
from typing import TypeVar

from pydantic import BaseModel, ValidationError
from redis.asyncio import Redis
from redis.asyncio.lock import Lock
from redis.exceptions import LockError

from voice_mcp.services.keyspace import user_part
from voice_mcp.services.oauth.crypto import TokenCipher, UndecryptableError
from voice_mcp.services.oauth.models import (
    ClientInfo,
    PendingAuthorization,
    PendingGrant,
    ResourceAuth,
    TokenSet,
)

log = logging.getLogger(__name__)
M = TypeVar("M", bound=BaseModel)


class CorruptRecord(Exception):
    """A stored record cannot be decrypted or parsed; treat it as gone."""


class OAuthStore:
    """Typed access to the `oauth:*` keys of one Redis (bytes mode)."""

    def __init__(self, redis: Redis, cipher: TokenCipher, *, prefix: str = "oauth:") -> None:
        self._redis = redis
        self._cipher = cipher
        self._prefix = prefix

    # -- keys: a user id only ever as keyspace.user_part (a digest), like every other store ---

    def _tokens_key(self, user_id: str, service_id: str) -> str:
        return f"{self._prefix}tokens:{service_id}:{user_part(user_id)}"

    def _reauth_key(self, user_id: str, service_id: str) -> str:
        return f"{self._prefix}reauth:{service_id}:{user_part(user_id)}"

    def _scopes_key(self, user_id: str, service_id: str) -> str:
        return f"{self._prefix}scopes:{service_id}:{user_part(user_id)}"

    def _client_key(self, service_id: str, issuer: str) -> str:
        # v2: one client per authorization server (SEP-2352), found again when it comes back.
        return f"{self._prefix}client:v2:{service_id}:{self._digest(issuer)[:32]}"

    def _meta_key(self, service_id: str) -> str:
        # v2: results checked by the URL policy; older cached ones are never read again.
        return f"{self._prefix}meta:v2:{service_id}"

    @staticmethod
    def _digest(value: str) -> str:
        return hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()

    def _state_key(self, state: str) -> str:
        return f"{self._prefix}state:{self._digest(state)}"

    def _bind_key(self, state: str) -> str:
        return f"{self._prefix}bind:{self._digest(state)}"

    def _grant_key(self, handle: str) -> str:
        return f"{self._prefix}grant:{self._digest(handle)}"

    def _pending_index_key(self, user_id: str, service_id: str) -> str:
        return f"{self._prefix}pending:{service_id}:{user_part(user_id)}"

    # -- encoding -----------------------------------------------------------------------------

    def _seal(self, record: BaseModel) -> bytes:
        return self._cipher.encrypt(record.model_dump_json().encode())

    def _open(self, raw: bytes | str, model: type[M]) -> M:
        data = raw.encode() if isinstance(raw, str) else raw  # the app's Redis is bytes mode
        try:
            return model.model_validate_json(self._cipher.decrypt(data))
        except (UndecryptableError, ValidationError):
            raise CorruptRecord(model.__name__) from None

    # -- tokens -------------------------------------------------------------------------------

    async def get_tokens(self, user_id: str, service_id: str) -> TokenSet | None:
        """The stored grant, None when there is none; CorruptRecord when unreadable."""
        raw = await self._redis.get(self._tokens_key(user_id, service_id))
        return None if raw is None else self._open(raw, TokenSet)

    async def save_tokens(self, user_id: str, service_id: str, tokens: TokenSet) -> None:
        """Store a grant and clear any needs-reauth mark, in one transaction."""
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.set(self._tokens_key(user_id, service_id), self._seal(tokens))
            pipe.delete(self._reauth_key(user_id, service_id))
            await pipe.execute()

    async def delete_grant(self, user_id: str, service_id: str) -> None:
        """Forget the grant, the needs-reauth mark and the scopes asked for."""
        await self._redis.delete(
            self._tokens_key(user_id, service_id), self._reauth_key(user_id, service_id),
            self._scopes_key(user_id, service_id),
        )

    async def ask_for_scopes(self, user_id: str, service_id: str, scopes: list[str]) -> None:
        """Remember scopes the next authorization must request, and that the user must connect
        again; the grant stays usable for what it already allows."""
        async with self._redis.pipeline(transaction=True) as pipe:
            if scopes:
                pipe.sadd(self._scopes_key(user_id, service_id), *scopes)
            pipe.set(self._reauth_key(user_id, service_id), b"1")
            await pipe.execute()

    async def wanted_scopes(self, user_id: str, service_id: str) -> set[str]:
        """The scopes a service asked this user for beyond the catalog's (step-up)."""
        members = await self._redis.smembers(self._scopes_key(user_id, service_id))
        return {m.decode() if isinstance(m, bytes) else str(m) for m in members}

    async def mark_reauth(self, user_id: str, service_id: str) -> None:
        """Drop an unusable grant and remember that the user must connect again."""
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.delete(self._tokens_key(user_id, service_id))
            pipe.set(self._reauth_key(user_id, service_id), b"1")
            await pipe.execute()

    async def needs_reauth(self, user_id: str, service_id: str) -> bool:
        return bool(await self._redis.exists(self._reauth_key(user_id, service_id)))

    async def connection_flags(
        self, user_id: str, service_ids: list[str]
    ) -> dict[str, tuple[bool, bool]]:
        """(has a grant, needs reauth) per service, in one round trip."""
        async with self._redis.pipeline(transaction=False) as pipe:
            for service_id in service_ids:
                pipe.exists(self._tokens_key(user_id, service_id))
                pipe.exists(self._reauth_key(user_id, service_id))
            flags = await pipe.execute()
        return {
            sid: (bool(flags[2 * i]), bool(flags[2 * i + 1])) for i, sid in enumerate(service_ids)
        }

    def named_lock(self, name: str, *, timeout: float, blocking_timeout: float) -> Lock:
        """A Redis lock shared by every process (expires after `timeout` if its holder dies)."""
        return self._redis.lock(f"{self._prefix}lock:{name}", timeout=timeout,
                                blocking_timeout=blocking_timeout, sleep=0.05)

    async def release(self, lock: Lock) -> None:
        """Release a lock; one that expired meanwhile is only logged."""
        try:
            await lock.release()
        except LockError:
            log.warning("oauth lock expired before release", extra={"lock": str(lock.name)})

    # -- clients and discovery ----------------------------------------------------------------

    async def get_client(self, service_id: str, issuer: str) -> ClientInfo | None:
        raw = await self._redis.get(self._client_key(service_id, issuer))
        if raw is None:
            return None
        try:
            return self._open(raw, ClientInfo)
        except CorruptRecord:
            return None  # a registration is cheap to redo

    async def save_client(self, service_id: str, client: ClientInfo) -> None:
        await self._redis.set(self._client_key(service_id, client.issuer), self._seal(client))

    async def delete_client(self, service_id: str, issuer: str) -> None:
        await self._redis.delete(self._client_key(service_id, issuer))

    async def get_resource_auth(self, service_id: str) -> ResourceAuth | None:
        raw = await self._redis.get(self._meta_key(service_id))
        if raw is None:
            return None
        try:
            return ResourceAuth.model_validate_json(raw)
        except ValidationError:
            return None

    async def save_resource_auth(self, service_id: str, found: ResourceAuth, ttl_s: int) -> None:
        # Public metadata: stored in clear, with a TTL so provider changes are picked up.
        await self._redis.set(self._meta_key(service_id), found.model_dump_json(), ex=ttl_s)

    # -- pending authorizations ---------------------------------------------------------------

    async def save_pending(self, state: str, pending: PendingAuthorization, ttl_s: int, *,
                           keep: int) -> int:
        """Store a pending authorization; past `keep` for its user and service, the oldest go.

        One Lua script, so concurrent connects cannot leave more than `keep` behind.
        Answers how many were dropped.
        """
        digest = self._digest(state)
        dropped = await self._redis.eval(
            _SAVE_PENDING, 2, self._state_key(state),
            self._pending_index_key(pending.user_id, pending.service_id),
            self._seal(pending), max(1, ttl_s), digest, max(1, keep),
            f"{self._prefix}state:", f"{self._prefix}bind:",
        )
        return int(dropped)

    async def get_pending(self, state: str) -> PendingAuthorization | None:
        """Read a pending authorization without consuming it (the start link)."""
        raw = await self._redis.get(self._state_key(state))
        return None if raw is None else self._open_or_none(raw)

    async def bind_browser(self, state: str, browser_hash: str, ttl_s: int) -> bool:
        """Bind a state to the one browser that opened its start link; False if one already did."""
        return bool(await self._redis.set(self._bind_key(state), browser_hash.encode(),
                                          ex=max(1, ttl_s), nx=True))

    async def pop_pending(self, state: str) -> tuple[PendingAuthorization | None, str | None]:
        """Take a pending authorization and its browser binding out, atomically: a state works
        once."""
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.getdel(self._state_key(state))
            pipe.getdel(self._bind_key(state))
            raw, bound = await pipe.execute()
        pending = None if raw is None else self._open_or_none(raw)
        if pending is not None:
            await self._redis.lrem(
                self._pending_index_key(pending.user_id, pending.service_id), 0,
                self._digest(state))
        browser = bound.decode() if isinstance(bound, bytes) else bound
        return pending, browser

    # -- grants waiting for their user (contract: the callback stores nothing) ---------------

    async def save_grant(self, handle: str, grant: PendingGrant, ttl_s: int) -> None:
        """Keep a finished sign-in under the hash of its one-time handle."""
        await self._redis.set(self._grant_key(handle), self._seal(grant), ex=max(1, ttl_s))

    async def take_grant(self, handle: str) -> PendingGrant | None:
        """Take a waiting grant out (GETDEL): a handle works once, whoever presents it."""
        raw = await self._redis.getdel(self._grant_key(handle))
        if raw is None:
            return None
        try:
            return self._open(raw, PendingGrant)
        except CorruptRecord:
            return None

    def _open_or_none(self, raw: bytes | str) -> PendingAuthorization | None:
        try:
            return self._open(raw, PendingAuthorization)
        except CorruptRecord:
            return None


# KEYS: the state record, the user's and service's index (newest first).
# ARGV: sealed record, ttl, state digest, how many to keep, state key prefix, bind key prefix.
_SAVE_PENDING = """
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
redis.call('LPUSH', KEYS[2], ARGV[3])
local keep = tonumber(ARGV[4])
local dropped = redis.call('LRANGE', KEYS[2], keep, -1)
redis.call('LTRIM', KEYS[2], 0, keep - 1)
redis.call('EXPIRE', KEYS[2], ARGV[2])
for _, digest in ipairs(dropped) do
  redis.call('DEL', ARGV[5] .. digest, ARGV[6] .. digest)
end
return #dropped
"""
