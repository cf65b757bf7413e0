"""Which catalog services a user can use now: shared ones always, OAuth ones once connected."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from voice_mcp.services.catalog import Catalog


class ConnectionState(Protocol):
    @property
    def connected(self) -> bool: ...

    @property
    def needs_reauth(self) -> bool: ...


class OAuthStatus(Protocol):
    async def status(self, user_id: str) -> Mapping[str, ConnectionState]: ...


class Connections:
    """Answer the orchestrator's question: which services, and why not the others."""

    def __init__(self, catalog: Catalog, oauth: OAuthStatus | None) -> None:
        self._catalog = catalog
        self._oauth = oauth

    async def usable(self, user_id: str) -> tuple[list[str], dict[str, str]]:
        """Usable service ids, and a short reason for each configured one that is not."""
        usable: list[str] = []
        unusable: dict[str, str] = {}
        statuses = await self._oauth.status(user_id) if self._oauth else {}
        for service in self._catalog.services.values():
            if service.is_shared:
                usable.append(service.id)
                continue
            state = statuses.get(service.id)
            if state is not None and state.needs_reauth:
                unusable[service.id] = "reauth_required"
            elif state is not None and state.connected:
                usable.append(service.id)
        return usable, unusable
