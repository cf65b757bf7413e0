"""Using grants: refresh ahead of expiry and after a 401, once under races, rotation, revoke."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from tests.oauth_server import OAuthServers
from tests.services.oauth.conftest import connect
from voice_mcp.errors import NotConnected, ReauthRequired
from voice_mcp.services.mcp.auth import TokenProvider
from voice_mcp.services.oauth import OAuthService


async def connect_with_short_token(oauth: OAuthService, servers: OAuthServers,
                                   user: str = "alice") -> str:
    """Connect with a token that has less than the 60 s leeway left; later ones last an hour."""
    servers.auth_server.access_token_lifetime = 30
    await connect(oauth, servers, user)
    servers.auth_server.access_token_lifetime = 3600
    return servers.auth_server.tokens_of(user)[-1].access_token


async def test_valid_token_is_served_without_refresh(oauth: OAuthService,
                                                     oauth_servers: OAuthServers) -> None:
    await connect(oauth, oauth_servers)
    provider: TokenProvider = oauth  # what the MCP layer holds (checked by mypy)

    first = await provider.access_token("alice", oauth_servers.service())
    second = await provider.access_token("alice", oauth_servers.service())

    assert first == second == oauth_servers.auth_server.tokens_of("alice")[-1].access_token
    assert oauth_servers.auth_server.counts["refresh_token"] == 0


async def test_token_is_refreshed_ahead_of_expiry(oauth: OAuthService,
                                                  oauth_servers: OAuthServers) -> None:
    issued = await connect_with_short_token(oauth, oauth_servers)

    token = await oauth.access_token("alice", oauth_servers.service())

    assert token != issued
    assert oauth_servers.auth_server.counts["refresh_token"] == 1
    assert oauth_servers.auth_server.token_requests[-1]["resource"] == oauth_servers.mcp_url
    assert await oauth_servers.whoami(token) == "alice"
    assert await oauth.access_token("alice", oauth_servers.service()) == token
    assert oauth_servers.auth_server.counts["refresh_token"] == 1


async def test_token_is_refreshed_after_a_401(oauth: OAuthService,
                                              oauth_servers: OAuthServers) -> None:
    await connect(oauth, oauth_servers)
    service = oauth_servers.service()
    rejected = await oauth.access_token("alice", service)
    oauth_servers.auth_server.expire_access_tokens("alice")
    assert await oauth_servers.mcp_status(rejected) == 401

    fresh = await oauth.refresh_after_unauthorized("alice", service, rejected)

    assert fresh != rejected
    assert await oauth_servers.whoami(fresh) == "alice"
    assert oauth_servers.auth_server.counts["refresh_token"] == 1
    # A late task reporting the same rejected token gets the new one, without a new refresh.
    assert await oauth.refresh_after_unauthorized("alice", service, rejected) == fresh
    assert oauth_servers.auth_server.counts["refresh_token"] == 1


async def test_rotated_refresh_token_is_stored_and_used(oauth: OAuthService,
                                                        oauth_servers: OAuthServers) -> None:
    await connect(oauth, oauth_servers)
    service = oauth_servers.service()
    original = oauth_servers.auth_server.tokens_of("alice")[-1]

    first = await oauth.refresh_after_unauthorized("alice", service,
                                                   await oauth.access_token("alice", service))
    rotated = oauth_servers.auth_server.tokens_of("alice")[-1]
    # The old refresh token is dead now: a second refresh only works with the rotated one.
    second = await oauth.refresh_after_unauthorized("alice", service, first)

    assert original.refresh_revoked and rotated.refresh_token != original.refresh_token
    assert second not in (first, original.access_token)
    assert oauth_servers.auth_server.counts["refresh_token"] == 2
    assert await oauth_servers.whoami(second) == "alice"


async def test_refresh_token_is_kept_when_the_server_does_not_rotate(
        oauth: OAuthService, oauth_servers: OAuthServers) -> None:
    oauth_servers.auth_server.rotate_refresh_tokens = False
    await connect(oauth, oauth_servers)
    service = oauth_servers.service()

    first = await oauth.refresh_after_unauthorized("alice", service,
                                                   await oauth.access_token("alice", service))
    second = await oauth.refresh_after_unauthorized("alice", service, first)

    assert oauth_servers.auth_server.tokens_of("alice")[-1].refresh_token is None
    assert await oauth_servers.whoami(second) == "alice"
    assert oauth_servers.auth_server.counts["refresh_token"] == 2


async def test_concurrent_calls_refresh_once(oauth: OAuthService,
                                             oauth_servers: OAuthServers) -> None:
    await connect_with_short_token(oauth, oauth_servers)
    service = oauth_servers.service()

    async with asyncio.timeout(10):
        tokens = await asyncio.gather(*(oauth.access_token("alice", service) for _ in range(10)))

    assert len(set(tokens)) == 1
    assert oauth_servers.auth_server.counts["refresh_token"] == 1


async def test_concurrent_calls_in_two_processes_refresh_once(
        make_oauth, oauth_servers: OAuthServers) -> None:
    # Two service instances share only Redis, like two server processes.
    first, second = make_oauth(), make_oauth()
    await connect_with_short_token(first, oauth_servers)
    service = oauth_servers.service()

    async with asyncio.timeout(10):
        tokens = await asyncio.gather(*(
            (first if i % 2 else second).access_token("alice", service) for i in range(10)))

    assert len(set(tokens)) == 1
    assert oauth_servers.auth_server.counts["refresh_token"] == 1


async def test_concurrent_401s_refresh_once(oauth: OAuthService,
                                            oauth_servers: OAuthServers) -> None:
    await connect(oauth, oauth_servers)
    service = oauth_servers.service()
    rejected = await oauth.access_token("alice", service)

    async with asyncio.timeout(10):
        tokens = await asyncio.gather(*(
            oauth.refresh_after_unauthorized("alice", service, rejected) for _ in range(10)))

    assert len(set(tokens)) == 1 and rejected not in tokens
    assert oauth_servers.auth_server.counts["refresh_token"] == 1


async def test_failed_refresh_marks_the_service_for_reauth(oauth: OAuthService,
                                                          oauth_servers: OAuthServers) -> None:
    await connect_with_short_token(oauth, oauth_servers)
    refresh_token = oauth_servers.auth_server.tokens_of("alice")[-1].refresh_token
    assert refresh_token
    oauth_servers.auth_server.fail_refresh = True
    service = oauth_servers.service()

    with pytest.raises(ReauthRequired) as caught:
        await oauth.access_token("alice", service)

    assert caught.value.service_id == "notes" and caught.value.code == "reauth_required"
    assert refresh_token not in str(caught.value)
    status = (await oauth.status("alice"))["notes"]
    assert (status.connected, status.needs_reauth) == (False, True)
    # No further attempts: the grant is gone until the user connects again.
    with pytest.raises(ReauthRequired):
        await oauth.access_token("alice", service)
    assert oauth_servers.auth_server.counts["refresh_token"] == 1

    oauth_servers.auth_server.fail_refresh = False
    await connect(oauth, oauth_servers)
    status = (await oauth.status("alice"))["notes"]
    assert (status.connected, status.needs_reauth) == (True, False)


async def test_failed_refresh_after_401_marks_reauth(oauth: OAuthService,
                                                     oauth_servers: OAuthServers) -> None:
    await connect(oauth, oauth_servers)
    service = oauth_servers.service()
    rejected = await oauth.access_token("alice", service)
    oauth_servers.auth_server.fail_refresh = True

    with pytest.raises(ReauthRequired):
        await oauth.refresh_after_unauthorized("alice", service, rejected)

    assert (await oauth.status("alice"))["notes"].needs_reauth


async def test_never_connected_user_is_told_so(oauth: OAuthService,
                                               oauth_servers: OAuthServers) -> None:
    with pytest.raises(NotConnected) as caught:
        await oauth.access_token("alice", oauth_servers.service())
    with pytest.raises(NotConnected):
        await oauth.refresh_after_unauthorized("alice", oauth_servers.service(), "whatever")

    assert caught.value.service_id == "notes" and caught.value.code == "not_connected"


async def test_one_users_tokens_never_serve_another(oauth: OAuthService,
                                                    oauth_servers: OAuthServers) -> None:
    await connect(oauth, oauth_servers, "alice")
    await connect(oauth, oauth_servers, "bob")
    service = oauth_servers.service()

    alice = await oauth.access_token("alice", service)
    bob = await oauth.access_token("bob", service)

    assert alice != bob
    assert await oauth_servers.whoami(alice) == "alice"
    assert await oauth_servers.whoami(bob) == "bob"
    with pytest.raises(NotConnected):
        await oauth.access_token("carol", service)
    # A refresh for one user leaves the other's grant alone.
    fresh = await oauth.refresh_after_unauthorized("alice", service, alice)
    assert await oauth.access_token("bob", service) == bob
    assert await oauth_servers.whoami(fresh) == "alice"


async def test_disconnect_revokes_and_forgets(make_oauth: Callable[..., OAuthService],
                                              oauth_servers: OAuthServers) -> None:
    disconnected: list[tuple[str, str]] = []

    async def on_disconnected(user_id: str, service_id: str) -> None:
        disconnected.append((user_id, service_id))

    oauth = make_oauth(on_disconnected=on_disconnected)
    await connect(oauth, oauth_servers, "alice")
    await connect(oauth, oauth_servers, "bob")
    service = oauth_servers.service()
    token = await oauth.access_token("alice", service)

    await oauth.disconnect("alice", "notes")

    assert oauth_servers.auth_server.revocations == ["refresh_token", "access_token"]
    assert all(t.access_revoked and t.refresh_revoked
               for t in oauth_servers.auth_server.tokens_of("alice"))
    assert await oauth_servers.mcp_status(token) == 401
    assert disconnected == [("alice", "notes")]
    assert not (await oauth.status("alice"))["notes"].connected
    with pytest.raises(NotConnected):
        await oauth.access_token("alice", service)
    assert await oauth_servers.whoami(await oauth.access_token("bob", service)) == "bob"


async def test_disconnect_without_revocation_endpoint_still_forgets(
        oauth: OAuthService, oauth_servers: OAuthServers) -> None:
    oauth_servers.auth_server.revocation_enabled = False
    await connect(oauth, oauth_servers, "alice")

    await oauth.disconnect("alice", "notes")

    assert oauth_servers.auth_server.counts["revoke"] == 0
    assert not (await oauth.status("alice"))["notes"].connected


async def test_disconnect_when_not_connected_is_harmless(oauth: OAuthService,
                                                         oauth_servers: OAuthServers) -> None:
    await oauth.disconnect("alice", "notes")

    assert oauth_servers.auth_server.counts["revoke"] == 0
    assert not (await oauth.status("alice"))["notes"].connected


async def test_a_grant_of_another_authorization_server_is_never_refreshed(
        oauth: OAuthService, oauth_servers: OAuthServers, redis_client, token_key) -> None:
    """SEP-2352: tokens are kept with their issuer; when the resource's authorization server is
    not that issuer any more, the refresh token goes nowhere and the user connects again."""
    from voice_mcp.services.oauth.crypto import TokenCipher
    from voice_mcp.services.oauth.storage import OAuthStore

    await connect_with_short_token(oauth, oauth_servers)
    store = OAuthStore(redis_client, TokenCipher([token_key]))
    held = await store.get_tokens("alice", "notes")
    assert held is not None and held.issuer == oauth_servers.issuer
    await store.save_tokens("alice", "notes", held.model_copy(
        update={"issuer": "https://old-issuer.example"}))

    with pytest.raises(ReauthRequired):
        await oauth.access_token("alice", oauth_servers.service())

    assert oauth_servers.auth_server.counts["refresh_token"] == 0
    status = (await oauth.status("alice"))["notes"]
    assert status.needs_reauth and not status.connected


async def test_registered_clients_are_kept_per_authorization_server(
        oauth: OAuthService, oauth_servers: OAuthServers, redis_client, token_key) -> None:
    from voice_mcp.services.oauth.crypto import TokenCipher
    from voice_mcp.services.oauth.storage import OAuthStore

    await connect(oauth, oauth_servers)
    store = OAuthStore(redis_client, TokenCipher([token_key]))

    client = await store.get_client("notes", oauth_servers.issuer)
    assert client is not None and client.issuer == oauth_servers.issuer
    assert await store.get_client("notes", "https://new-issuer.example") is None
