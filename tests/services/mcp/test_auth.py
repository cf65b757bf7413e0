"""Credentials: static bearer tokens, OAuth tokens through the provider hook, per-user sessions."""

from __future__ import annotations

import json

import pytest
import redis.asyncio as aioredis

from tests.fixtures.mcp_servers import NOTES_BEARER_ENV, NOTES_BEARER_TOKEN, NOTES_TOOLS
from tests.mcp_servers.runner import RunningServer
from tests.services.mcp.conftest import MakeManager
from voice_mcp.errors import AppError, NotConnected, ReauthRequired
from voice_mcp.services.catalog import ServiceConfig
from voice_mcp.services.keyspace import user_key


class Tokens:
    """A TokenProvider standing in for the OAuth layer: one current token per user."""

    def __init__(self, server: RunningServer, **tokens: str) -> None:
        self.server = server
        self.tokens = dict(tokens)
        self.refreshes: list[tuple[str, str]] = []
        self.refresh_error: AppError | None = None

    async def access_token(self, user_id: str, service: ServiceConfig) -> str:
        if user_id not in self.tokens:
            raise NotConnected(service.id)
        return self.tokens[user_id]

    async def refresh_after_unauthorized(self, user_id: str, service: ServiceConfig,
                                         rejected: str) -> str:
        self.refreshes.append((user_id, rejected))
        if self.refresh_error is not None:
            raise self.refresh_error
        assert self.server.token is not None
        self.tokens[user_id] = self.server.token  # what the authorization server would issue
        return self.tokens[user_id]


def oauth_service(server: RunningServer) -> ServiceConfig:
    return ServiceConfig(id="cal", title="Calendar", transport="streamable-http",
                         url=server.url, auth="oauth")


async def test_a_bearer_token_from_the_environment_is_sent(make_manager: MakeManager,
                                                           notes_bearer_server: RunningServer):
    manager = make_manager(notes_bearer_server.service("notes"))

    found = await manager.discover("alice", ["notes"])
    result = await manager.call_tool("alice", "notes", "list_notes", {})

    assert {t.name for t in found.tools} == NOTES_TOOLS
    assert result.success
    assert notes_bearer_server.stats.unauthorized == 0


async def test_a_rejected_bearer_token_makes_the_service_unavailable(
        make_manager: MakeManager, notes_bearer_server: RunningServer,
        monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv(NOTES_BEARER_ENV, "not-the-token")
    manager = make_manager(notes_bearer_server.service("notes"))

    found = await manager.discover("alice", ["notes"])

    assert found.unavailable == {"notes": "service_unauthorized"}
    assert notes_bearer_server.stats.unauthorized >= 1
    assert notes_bearer_server.stats.methods["server/discover"] == 0


async def test_a_missing_bearer_token_is_named(make_manager: MakeManager,
                                               notes_bearer_server: RunningServer,
                                               monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv(NOTES_BEARER_ENV)
    manager = make_manager(notes_bearer_server.service("notes"))

    found = await manager.discover("alice", ["notes"])
    with pytest.raises(AppError) as raised:
        await manager.call_tool("alice", "notes", "list_notes", {})

    assert found.unavailable == {"notes": "service_misconfigured"}
    assert raised.value.message == f"Service 'notes' has no token: set {NOTES_BEARER_ENV}."
    assert notes_bearer_server.stats.http_requests == 0


async def test_a_401_refreshes_the_oauth_token_once_and_retries(
        make_manager: MakeManager, notes_bearer_server: RunningServer):
    tokens = Tokens(notes_bearer_server, alice="expired")
    manager = make_manager(oauth_service(notes_bearer_server), token_provider=tokens)

    found = await manager.discover("alice", ["cal"])

    assert found.unavailable == {} and len(found.tools) == len(NOTES_TOOLS)
    assert tokens.refreshes == [("alice", "expired")]
    assert notes_bearer_server.stats.unauthorized == 1


async def test_a_token_revoked_mid_session_is_refreshed(make_manager: MakeManager,
                                                        notes_bearer_server: RunningServer):
    tokens = Tokens(notes_bearer_server, alice=NOTES_BEARER_TOKEN)
    manager = make_manager(oauth_service(notes_bearer_server), token_provider=tokens)
    assert (await manager.call_tool("alice", "cal", "list_notes", {})).success

    notes_bearer_server.set_token("rotated")
    result = await manager.call_tool("alice", "cal", "add_note", {"text": "Dentist"})

    assert result.success, result.error
    assert tokens.refreshes[0] == ("alice", NOTES_BEARER_TOKEN)
    assert manager.initialize_count == 1  # same session, new token


async def test_a_failed_refresh_asks_the_user_to_reconnect(make_manager: MakeManager,
                                                           notes_bearer_server: RunningServer):
    tokens = Tokens(notes_bearer_server, alice="expired")
    tokens.refresh_error = ReauthRequired("cal")
    manager = make_manager(oauth_service(notes_bearer_server), token_provider=tokens)

    found = await manager.discover("alice", ["cal"])
    with pytest.raises(ReauthRequired):
        await manager.call_tool("alice", "cal", "list_notes", {})

    assert found.unavailable == {"cal": "reauth_required"}
    assert notes_bearer_server.stats.methods["tools/call"] == 0


async def test_a_user_who_never_connected(make_manager: MakeManager,
                                          notes_bearer_server: RunningServer):
    manager = make_manager(oauth_service(notes_bearer_server),
                           token_provider=Tokens(notes_bearer_server))

    found = await manager.discover("mallory", ["cal"])
    with pytest.raises(NotConnected):
        await manager.call_tool("mallory", "cal", "list_notes", {})

    assert found.unavailable == {"cal": "not_connected"}
    assert notes_bearer_server.stats.http_requests == 0


async def test_each_user_has_a_session_and_a_tool_list_of_their_own(
        make_manager: MakeManager, notes_bearer_server: RunningServer,
        redis_client: aioredis.Redis):
    token = notes_bearer_server.token
    assert token is not None
    manager = make_manager(oauth_service(notes_bearer_server),
                           token_provider=Tokens(notes_bearer_server, alice=token, bob=token))

    await manager.discover("alice", ["cal"])
    await manager.discover("bob", ["cal"])
    await manager.close_user_sessions("alice", "cal")
    still = await manager.call_tool("bob", "cal", "list_notes", {})

    assert notes_bearer_server.stats.handshakes == 2
    assert notes_bearer_server.stats.methods["tools/list"] == 2
    assert still.success and manager.initialize_count == 2
    assert await redis_client.get(user_key("vm:mcp-tools:cal", "alice")) is None
    stored = json.loads(await redis_client.get(user_key("vm:mcp-tools:cal", "bob")) or "[]")
    assert {t["name"] for t in stored} == NOTES_TOOLS
    assert [s.user_id for s in manager.sessions if s.usable] == ["bob"]


async def test_idle_user_sessions_are_closed(make_manager: MakeManager,
                                             notes_bearer_server: RunningServer,
                                             notes_http_server: RunningServer):
    token = notes_bearer_server.token
    assert token is not None
    manager = make_manager(oauth_service(notes_bearer_server), notes_http_server.service("notes"),
                           token_provider=Tokens(notes_bearer_server, alice=token),
                           idle_timeout_s=0)
    await manager.discover("alice", ["cal", "notes"])

    closed = await manager.close_idle_sessions()

    assert closed == 1  # the shared session stays warm
    assert [s.service.id for s in manager.sessions] == ["notes"]


async def test_a_403_insufficient_scope_asks_the_user_for_more_access() -> None:
    """RFC 6750 / MCP step-up: no retry with the same token; the scopes the server named go
    to the OAuth layer, and the failure names the service in words."""
    import httpx2

    from voice_mcp.services.mcp.auth import InsufficientScope, auth_for

    service = ServiceConfig(id="cal", title="Calendar", transport="streamable-http",
                            url="https://mcp.example/mcp", auth="oauth")
    asked: list[list[str]] = []

    class Provider:
        async def access_token(self, user_id: str, service: ServiceConfig) -> str:
            return "token-1"

        async def refresh_after_unauthorized(self, user_id: str, service: ServiceConfig,
                                             rejected: str) -> str:
            raise AssertionError("a 403 is not a 401")

        async def insufficient_scope(self, user_id: str, service: ServiceConfig,
                                     required: list[str]) -> None:
            asked.append(required)

    sent: list[str] = []

    def answer(request: httpx2.Request) -> httpx2.Response:
        sent.append(request.headers["Authorization"])
        return httpx2.Response(403, headers={"WWW-Authenticate": (
            'Bearer error="insufficient_scope", scope="cal.read cal.write",'
            ' resource_metadata="https://mcp.example/.well-known/oauth-protected-resource"')})

    auth = auth_for(service, "alice", Provider())
    assert auth is not None
    async with httpx2.AsyncClient(transport=httpx2.MockTransport(answer), auth=auth) as http:
        assert (await http.post(service.url or "", json={})).status_code == 403

    assert sent == ["Bearer token-1"] and asked == [["cal.read", "cal.write"]]
    failure = auth.take_failure()
    assert isinstance(failure, InsufficientScope) and failure.code == "insufficient_scope"
    assert "Calendar needs more access" in failure.message
