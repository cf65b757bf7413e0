"""Credentials for HTTP MCP services: a static bearer token, or OAuth through a hook."""

from __future__ import annotations

import os
from collections.abc import AsyncGenerator, Awaitable, Callable
from typing import Protocol

import httpx2

from voice_mcp.errors import AppError, ReauthRequired
from voice_mcp.services.catalog import ServiceConfig
from voice_mcp.services.oauth.discovery import bearer_challenge


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

    async def insufficient_scope(self, user_id: str, service: ServiceConfig,
                                 required: list[str]) -> None:
        """The MCP server answered 403 `insufficient_scope`: ask the user to grant `required`."""
        ...


class InsufficientScope(AppError):
    """A service needs more access than the user granted; they must connect it again."""

    code = "insufficient_scope"
    status = 403

    def __init__(self, service: ServiceConfig) -> None:
        super().__init__(f"{service.title} needs more access for this. Connect {service.title}"
                         " again to grant it, then try once more.")
        self.service_id = service.id


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
                 refresh: Callable[[str], Awaitable[str]] | None,
                 step_up: Callable[[list[str]], Awaitable[AppError]] | None = None) -> None:
        self._service_id = service_id
        self._token = token
        self._refresh = refresh
        self._step_up = step_up
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
        if response.status_code == 403:
            await self._forbidden(response)
            return
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

    async def _forbidden(self, response: httpx2.Response) -> None:
        """A 403 `insufficient_scope` (RFC 6750 section 3.1) asks for a step-up; not retried:
        only the user can grant more (docs/oauth.md, "More access")."""
        challenge = bearer_challenge(response.headers.get("www-authenticate", ""))
        if self._step_up is None or challenge.get("error") != "insufficient_scope":
            return
        try:
            self.failure = await self._step_up(challenge.get("scope", "").split())
        except AppError as err:
            self.failure = err

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

        async def step_up(required: list[str]) -> AppError:
            await oauth.insufficient_scope(uid, service, required)
            return InsufficientScope(service)

        return BearerAuth(service.id, access, refresh, step_up)
    return None
