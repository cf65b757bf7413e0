"""Credentials for HTTP MCP services: a static bearer token, or OAuth through a hook."""

from __future__ import annotations

import os
from collections.abc import AsyncGenerator, Awaitable, Callable
from typing import Protocol

import httpx2

from voice_mcp.errors import AppError, ReauthRequired
from voice_mcp.services.catalog import ServiceConfig


class TokenProvider(Protocol):
    """Where OAuth access tokens come from; implemented by the OAuth layer.

    Both methods raise `voice_mcp.errors.NotConnected` or `ReauthRequired` when the
    user has no usable grant for the service.
    """

    async def access_token(self, user_id: str, service: ServiceConfig) -> str:
        """A current access token for this user and service."""
        ...

    async def refresh_after_unauthorized(self, user_id: str, service: ServiceConfig,
                                         rejected: str) -> str:
        """A new token after the MCP server answered 401 to `rejected`."""
        ...


class CredentialsRejected(AppError):
    """A service answered 401 to a static bearer token; only its operator can fix that."""

    code = "service_unauthorized"
    status = 502

    def __init__(self, service_id: str) -> None:
        super().__init__(f"Service '{service_id}' rejected its credentials.")


class BearerAuth(httpx2.Auth):
    """Put a bearer token on each request; on a 401, refresh once and send once more.

    httpx runs this flow inside the MCP transport's tasks, where exceptions turn into
    anonymous connection errors; the coded error that explains a failure is therefore
    kept in `failure` for the session to report instead.
    """

    requires_request_body = True  # the body is sent twice when the first try gets a 401

    def __init__(self, service_id: str, token: Callable[[], Awaitable[str]],
                 refresh: Callable[[str], Awaitable[str]] | None) -> None:
        self._service_id = service_id
        self._token = token
        self._refresh = refresh
        self.failure: AppError | None = None

    async def async_auth_flow(
        self, request: httpx2.Request
    ) -> AsyncGenerator[httpx2.Request, httpx2.Response]:
        try:
            token = await self._token()
        except AppError as err:
            self.failure = err
            raise
        request.headers["Authorization"] = f"Bearer {token}"
        response = yield request
        if response.status_code != 401:
            return
        if self._refresh is None:
            self.failure = CredentialsRejected(self._service_id)
            return
        try:
            token = await self._refresh(token)
        except AppError as err:
            self.failure = err
            return
        request.headers["Authorization"] = f"Bearer {token}"
        response = yield request
        if response.status_code == 401:
            self.failure = ReauthRequired(self._service_id)

    def take_failure(self) -> AppError | None:
        """The recorded error, cleared so that it explains one failure only."""
        failure, self.failure = self.failure, None
        return failure


class MissingToken(AppError):
    """A bearer service's token variable is not set: a deployment mistake."""

    code = "service_misconfigured"
    status = 503

    def __init__(self, service_id: str, variable: str) -> None:
        super().__init__(f"Service '{service_id}' has no token: set {variable}.")


def auth_for(service: ServiceConfig, user_id: str | None,
             provider: TokenProvider | None) -> BearerAuth | None:
    """The httpx auth a service needs, or None for `auth = "none"` and stdio services."""
    if service.auth == "bearer" and service.token_env:
        variable = service.token_env

        async def static_token() -> str:
            value = os.environ.get(variable)
            if not value:
                raise MissingToken(service.id, variable)
            return value

        return BearerAuth(service.id, static_token, None)
    if service.auth == "oauth":
        if provider is None or user_id is None:
            raise AppError(f"Service '{service.id}' needs OAuth, which is not set up.",
                           code="service_misconfigured", status=503)
        oauth, uid = provider, user_id

        async def access() -> str:
            return await oauth.access_token(uid, service)

        async def refresh(rejected: str) -> str:
            return await oauth.refresh_after_unauthorized(uid, service, rejected)

        return BearerAuth(service.id, access, refresh)
    return None
