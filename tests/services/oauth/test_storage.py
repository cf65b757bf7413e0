"""Secrets at rest: nothing readable in Redis, and keys that rotate."""

from __future__ import annotations

import asyncio

import pytest
import redis.asyncio as aioredis
from cryptography.fernet import Fernet

from tests.oauth_server import OAuthServers
from tests.services.oauth.conftest import REDIRECT_URI, browser_start, connect
from voice_mcp.errors import ReauthRequired
from voice_mcp.services.keyspace import user_part
from voice_mcp.services.oauth import OAuthService
from voice_mcp.services.oauth.crypto import TokenCipher, UndecryptableError
from voice_mcp.services.oauth.models import PendingAuthorization, TokenSet
from voice_mcp.services.oauth.storage import OAuthStore
from voice_mcp.settings import ConfigError


async def all_redis_bytes(redis: aioredis.Redis) -> list[bytes]:
    """Every key and every string value in the test database."""
    seen: list[object] = []
    async for key in redis.scan_iter():
        seen.append(key)
        if await redis.type(key) == b"string":
            seen.append(await redis.get(key))
    return [item if isinstance(item, bytes) else str(item).encode() for item in seen]


async def test_raw_redis_never_holds_a_secret_in_clear(
        make_oauth, oauth_servers: OAuthServers, redis_client: aioredis.Redis,
        monkeypatch: pytest.MonkeyPatch) -> None:
    secret = "static-client-secret-0123456789"
    # Registered clients get a secret too, which must be stored encrypted.
    oauth_servers.auth_server.token_endpoint_auth_methods = ["client_secret_post"]
    oauth_servers.auth_server.add_client("static-notes", REDIRECT_URI, secret=secret)
    monkeypatch.setenv("STATIC_ID", "static-notes")
    monkeypatch.setenv("STATIC_SECRET", secret)
    static = oauth_servers.service("static", client_id_env="STATIC_ID",
                                   client_secret_env="STATIC_SECRET",
                                   issuer=oauth_servers.issuer)
    oauth = make_oauth(oauth_servers.catalog(oauth_servers.service(), static))
    await connect(oauth, oauth_servers, "alice", "notes")
    await connect(oauth, oauth_servers, "alice", "static")
    pending_url = await browser_start(oauth, "bob", "notes")  # a state and its verifier at rest too
    state = pending_url.split("state=")[1].split("&")[0]

    stored = await all_redis_bytes(redis_client)

    assert any(f"tokens:notes:{user_part('alice')}".encode() in item for item in stored)
    secrets = [secret, state]
    for token in oauth_servers.auth_server.tokens_of("alice"):
        secrets += [token.access_token, token.refresh_token or "absent"]
    registered = [c.client_secret for c in oauth_servers.auth_server.storage.clients.values()
                  if c.client_secret and c.client_id != "static-notes"]
    assert registered
    secrets += registered
    for value in secrets:
        assert not any(value.encode() in item for item in stored)


async def test_old_key_still_decrypts_and_new_key_encrypts(
        make_oauth, oauth_servers: OAuthServers, token_key: str) -> None:
    service = oauth_servers.service()
    await connect(make_oauth(keys=[token_key]), oauth_servers, "alice")
    new_key = Fernet.generate_key().decode()
    rotated = make_oauth(keys=[new_key, token_key])

    token = await rotated.access_token("alice", service)  # written with the old key
    fresh = await rotated.refresh_after_unauthorized("alice", service, token)  # re-written

    assert await make_oauth(keys=[new_key]).access_token("alice", service) == fresh
    with pytest.raises(ReauthRequired):  # the old key alone cannot read the new record
        await make_oauth(keys=[token_key]).access_token("alice", service)


async def test_unreadable_grant_asks_for_reauth(make_oauth, oauth_servers: OAuthServers) -> None:
    await connect(make_oauth(), oauth_servers, "alice")
    stranger: OAuthService = make_oauth(keys=[Fernet.generate_key().decode()])

    with pytest.raises(ReauthRequired):
        await stranger.access_token("alice", oauth_servers.service())

    status = (await stranger.status("alice"))["notes"]
    assert (status.connected, status.needs_reauth) == (False, True)


def test_cipher_rotates_keys() -> None:
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    sealed_old = TokenCipher([old]).encrypt(b"grant")

    both = TokenCipher([new, old])
    sealed_new = both.encrypt(b"grant")

    assert both.decrypt(sealed_old) == b"grant"
    assert TokenCipher([new]).decrypt(sealed_new) == b"grant"
    with pytest.raises(UndecryptableError):
        TokenCipher([old]).decrypt(sealed_new)


def test_malformed_key_is_named_but_not_shown() -> None:
    good = Fernet.generate_key().decode()

    with pytest.raises(ConfigError) as caught:
        TokenCipher([good, "not-a-real-key-123"])

    message = str(caught.value)
    assert "VOICE_MCP_TOKEN_KEY" in message and "key #2" in message
    assert "not-a-real-key-123" not in message and good not in message
    assert "Fernet.generate_key" in message


def test_missing_key_says_how_to_make_one() -> None:
    with pytest.raises(ConfigError, match="Fernet.generate_key"):
        TokenCipher([])


def test_token_set_repr_hides_tokens() -> None:
    tokens = TokenSet(access_token="AT-secret", refresh_token="RT-secret", expires_at=1.0)

    assert "secret" not in repr(tokens) and "secret" not in str(tokens)


async def test_concurrent_connects_keep_at_most_three_pending_states(
        redis_client: aioredis.Redis) -> None:
    store = OAuthStore(redis_client, TokenCipher([Fernet.generate_key().decode()]))

    def pending(user: str) -> PendingAuthorization:
        return PendingAuthorization(
            user_id=user, service_id="notes", client_id="c", code_verifier="v" * 43,
            redirect_uri=REDIRECT_URI, resource="https://mcp.example.com/mcp",
            expires_at=2e9, issuer="https://auth.example.com", authorization_url="https://a",
            open_by=2e9)

    states = [f"state-{i}" for i in range(12)]
    await asyncio.gather(*(store.save_pending(s, pending("alice"), 60, keep=3) for s in states))
    await store.save_pending("bobs", pending("bob"), 60, keep=3)

    kept = [s for s in states if await store.get_pending(s) is not None]
    assert len(kept) == 3
    assert await store.get_pending("bobs") is not None
    assert len(await redis_client.keys("oauth:state:*")) == 4
    # A consumed state leaves the index: three new ones fit before any is dropped.
    await store.pop_pending(kept[0])
    await store.save_pending("late", pending("alice"), 60, keep=3)
    assert all([await store.get_pending(s) is not None for s in [*kept[1:], "late"]])


async def test_cached_metadata_rewritten_in_redis_is_not_used(
        make_oauth, oauth_servers: OAuthServers, redis_client: aioredis.Redis) -> None:
    """The cached discovery names where browsers, codes and secrets go: a record that this
    server did not seal (here, endpoints moved to another host) is discovered again."""
    from voice_mcp.services.oauth.models import AuthServerMetadata, ResourceAuth

    await connect(make_oauth(), oauth_servers, "alice")
    [key] = [k async for k in redis_client.scan_iter(match="oauth:meta:*")]
    service = oauth_servers.service()
    assert service.url is not None
    forged = ResourceAuth(mcp_url=service.url, resource=service.url, metadata=AuthServerMetadata(
        issuer=oauth_servers.issuer, authorization_endpoint="https://evil.test/authorize",
        token_endpoint="https://evil.test/token"))
    await redis_client.set(key, forged.model_dump_json(), ex=600)

    url = await browser_start(make_oauth(), "bob")  # another process
    assert "evil.test" not in url and url.startswith(oauth_servers.issuer), url
    assert (await redis_client.get(key)) != forged.model_dump_json().encode(), "re-discovered"
