"""Which authorization server and which OAuth client a service uses, cached in Redis."""

from __future__ import annotations

import logging

import httpx2

from voice_mcp.errors import ServiceUnavailable
from voice_mcp.services.catalog import ServiceConfig
from voice_mcp.services.oauth.discovery import Discoverer
from voice_mcp.services.oauth.models import ClientInfo, ResourceAuth
from voice_mcp.services.oauth.registration import (
    METADATA_DOCUMENT_PATH,
    metadata_document_client,
    register_client,
    static_client,
)
from voice_mcp.services.oauth.storage import OAuthStore
from voice_mcp.services.oauth.url_policy import Resolver, UrlPolicy, resolve

log = logging.getLogger(__name__)


class ClientResolver:
    """Discovery results and registered clients per service, reused across users."""

    def __init__(self, store: OAuthStore, http: httpx2.AsyncClient, *, public_url: str,
                 redirect_uri: str, metadata_ttl_s: int, lock_timeout_s: float,
                 resolver: Resolver = resolve) -> None:
        self.document_url = public_url.rstrip("/") + METADATA_DOCUMENT_PATH
        self._store = store
        self._http = http
        self._discoverer = Discoverer(http, resolver)
        self._redirect_uri = redirect_uri
        self._metadata_ttl_s = metadata_ttl_s
        self._lock_timeout_s = lock_timeout_s

    @property
    def redirect_uri(self) -> str:
        return self._redirect_uri

    async def resource_auth(self, service: ServiceConfig) -> ResourceAuth:
        """The service's authorization server metadata, from the cache or discovered now."""
        cached = await self._store.get_resource_auth(service.id)
        if cached is not None and cached.mcp_url == service.url and (
                not service.issuer
                or cached.metadata.issuer.rstrip("/") == service.issuer.rstrip("/")):
            return cached
        found = await self._discoverer.discover(service)
        await self._store.save_resource_auth(service.id, found, self._metadata_ttl_s)
        return found

    async def policy(self, service: ServiceConfig) -> UrlPolicy:
        """The URL policy that every request made for `service` goes through."""
        return await self._discoverer.policy(service)

    async def client(self, service: ServiceConfig, found: ResourceAuth) -> ClientInfo:
        """The static client, else this server's metadata document URL where the authorization
        server takes one, else the registered one, registering it once if needed."""
        configured = self._configured(service, found)
        if configured is not None:
            return configured
        current = await self._usable_client(service, found)
        if current is not None:
            return current
        # One registration per service even when several users connect at once.
        lock = self._store.named_lock(f"register:{service.id}", timeout=self._lock_timeout_s,
                                      blocking_timeout=self._lock_timeout_s)
        if not await lock.acquire():
            raise ServiceUnavailable(f"Service '{service.id}' is busy; try again.",
                                     code="oauth_busy")
        try:
            current = await self._usable_client(service, found)
            if current is not None:
                return current
            scopes = service.scopes or found.scopes
            registered = await register_client(self._http, service, found, self._redirect_uri,
                                               scopes, await self.policy(service))
            await self._store.save_client(service.id, registered)
            log.info("oauth client registered", extra={"service": service.id})
            return registered
        finally:
            await self._store.release(lock)

    async def stored_client(self, service: ServiceConfig, found: ResourceAuth) -> ClientInfo | None:
        """The client grants were issued to, without registering a new one."""
        configured = self._configured(service, found)
        return configured if configured is not None else await self._usable_client(service, found)

    def _configured(self, service: ServiceConfig, found: ResourceAuth) -> ClientInfo | None:
        return static_client(service, found.metadata, self._redirect_uri) \
            or metadata_document_client(found.metadata, self._redirect_uri, self.document_url)

    async def forget_client(self, service: ServiceConfig, found: ResourceAuth) -> None:
        """Drop a registered client the server no longer knows (invalid_client)."""
        if not service.client_id_env:
            await self._store.delete_client(service.id, found.metadata.issuer)

    async def issuer_changed(self, service: ServiceConfig) -> bool:
        """Discover again (the resource refused a token): True when the resource now names
        another authorization server (SEP-2352). A failed discovery keeps what was known."""
        before = await self._store.get_resource_auth(service.id)
        try:
            found = await self._discoverer.discover(service)
        except ServiceUnavailable as err:
            log.info("oauth rediscovery failed", extra={"service": service.id,
                                                        "error": err.code})
            return False
        await self._store.save_resource_auth(service.id, found, self._metadata_ttl_s)
        changed = before is not None and before.metadata.issuer != found.metadata.issuer
        if changed:
            log.info("oauth authorization server changed", extra={"service": service.id})
        return changed

    async def _usable_client(self, service: ServiceConfig,
                             found: ResourceAuth) -> ClientInfo | None:
        client = await self._store.get_client(service.id, found.metadata.issuer)
        if client is None or client.static:
            return None
        if client.issuer != found.metadata.issuer or client.redirect_uri != self._redirect_uri:
            return None  # registered for another server or callback: register again
        return client
