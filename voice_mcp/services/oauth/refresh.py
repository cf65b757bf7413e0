"""Hand out access tokens, refreshing each grant once even when many commands race.

Two locks: an asyncio lock per grant keeps the tasks of this process from polling Redis,
and a Redis lock keeps other processes out. Whoever gets them re-reads the stored grant
first, so the tasks that waited simply take the token the winner stored.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import weakref
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from voice_mcp.errors import NotConnected, ReauthRequired, ServiceUnavailable
from voice_mcp.services.catalog import ServiceConfig
from voice_mcp.services.keyspace import user_part
from voice_mcp.services.oauth.clients import ClientResolver
from voice_mcp.services.oauth.errors import provider_unavailable
from voice_mcp.services.oauth.models import TokenSet
from voice_mcp.services.oauth.storage import CorruptRecord, OAuthStore
from voice_mcp.services.oauth.tokens import GrantRejected, ProviderUnavailable, TokenEndpoint

log = logging.getLogger(__name__)


class TokenManager:
    """The TokenProvider of the MCP layer: per-user access tokens for OAuth services."""

    def __init__(self, store: OAuthStore, resolver: ClientResolver, endpoint: TokenEndpoint, *,
                 leeway_s: float, lock_timeout_s: float, clock: Callable[[], float]) -> None:
        self._store = store
        self._resolver = resolver
        self._endpoint = endpoint
        self._leeway_s = leeway_s
        self._lock_timeout_s = lock_timeout_s
        self._clock = clock
        self._local: weakref.WeakValueDictionary[str, asyncio.Lock] = (
            weakref.WeakValueDictionary()
        )

    async def access_token(self, user_id: str, service: ServiceConfig) -> str:
        """A usable access token, refreshed first when it has less than the leeway left."""
        tokens = await self.load(user_id, service.id)
        if not self._stale(tokens):
            return tokens.access_token
        return await self._refresh(user_id, service, self._stale)

    async def refresh_after_unauthorized(self, user_id: str, service: ServiceConfig,
                                         rejected: str) -> str:
        """A new access token after the MCP server refused `rejected` with a 401."""

        def still_rejected(tokens: TokenSet) -> bool:
            return hmac.compare_digest(tokens.access_token.encode(), rejected.encode())

        tokens = await self.load(user_id, service.id)
        if not still_rejected(tokens):
            return tokens.access_token  # another task already replaced it
        if await self._resolver.issuer_changed(service):
            # The resource moved to another authorization server: the grant is of no use there.
            async with self.locked(user_id, service.id):
                await self._store.mark_reauth(user_id, service.id)
            raise ReauthRequired(service.id)
        return await self._refresh(user_id, service, still_rejected)

    async def load(self, user_id: str, service_id: str) -> TokenSet:
        """The stored grant; NotConnected or ReauthRequired when there is none to use."""
        try:
            tokens = await self._store.get_tokens(user_id, service_id)
        except CorruptRecord:
            # Encrypted with a key that was removed from VOICE_MCP_TOKEN_KEY (or altered).
            log.warning("stored oauth grant unreadable", extra={"service": service_id})
            await self._store.mark_reauth(user_id, service_id)
            raise ReauthRequired(service_id) from None
        if tokens is not None:
            return tokens
        if await self._store.needs_reauth(user_id, service_id):
            raise ReauthRequired(service_id)
        raise NotConnected(service_id)

    @asynccontextmanager
    async def locked(self, user_id: str, service_id: str) -> AsyncIterator[None]:
        """Hold the grant's lock, in this process and across processes."""
        key = f"{service_id}:{user_part(user_id)}"
        local = self._local.get(key)
        if local is None:
            local = self._local[key] = asyncio.Lock()
        async with local:
            lock = self._store.named_lock(f"grant:{key}", timeout=self._lock_timeout_s,
                                          blocking_timeout=self._lock_timeout_s)
            if not await lock.acquire():
                raise ServiceUnavailable(f"Service '{service_id}' is busy; try again.",
                                         code="oauth_busy")
            try:
                yield
            finally:
                await self._store.release(lock)

    def _stale(self, tokens: TokenSet) -> bool:
        return tokens.expires_within(self._leeway_s, self._clock())

    async def _refresh(self, user_id: str, service: ServiceConfig,
                       needs_refresh: Callable[[TokenSet], bool]) -> str:
        async with self.locked(user_id, service.id):
            tokens = await self.load(user_id, service.id)
            if not needs_refresh(tokens):
                return tokens.access_token  # refreshed while we waited for the lock
            if not tokens.refresh_token:
                await self._store.mark_reauth(user_id, service.id)
                raise ReauthRequired(service.id)
            found = await self._resolver.resource_auth(service)
            client = await self._resolver.stored_client(service, found)
            if client is None or tokens.issuer not in (None, found.metadata.issuer):
                await self._store.mark_reauth(user_id, service.id)
                raise ReauthRequired(service.id)
            policy = await self._resolver.policy(service)
            try:
                fresh = await self._endpoint.refresh(client, found.metadata, tokens,
                                                     resource=found.resource, policy=policy)
            except GrantRejected as err:
                log.info("oauth refresh refused", extra={"service": service.id,
                                                         "error": err.error})
                await self._store.mark_reauth(user_id, service.id)
                if err.error == "invalid_client":
                    await self._resolver.forget_client(service, found)
                raise ReauthRequired(service.id) from None
            except ProviderUnavailable as err:
                log.warning("oauth refresh failed", extra={"service": service.id,
                                                           "error": str(err)})
                raise provider_unavailable(service.id) from None
            await self._store.save_tokens(user_id, service.id, fresh)
            return fresh.access_token
