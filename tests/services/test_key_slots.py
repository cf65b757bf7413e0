"""Keys that one script or transaction touches together hash to one Redis Cluster slot
(docs/operations.md, "Redis Cluster"): computed with redis-py's own slot function, no cluster
needed, so a renamed key that splits a group fails here in the fast tier."""

from __future__ import annotations

import pytest
from redis.crc import key_slot

from voice_mcp.services.commands.redis_keys import CommandKeys
from voice_mcp.services.confirmations import _keys as confirmation_keys
from voice_mcp.services.history import HistoryStore
from voice_mcp.services.oauth.crypto import TokenCipher
from voice_mcp.services.oauth.storage import OAuthStore
from voice_mcp.services.store import make_pool


def one_slot(*keys: str) -> bool:
    return len({key_slot(key.encode()) for key in keys}) == 1


@pytest.fixture
def oauth() -> OAuthStore:
    from cryptography.fernet import Fernet

    client = make_pool("redis://127.0.0.1:1/0")  # never connected: only key names are read
    return OAuthStore(client, TokenCipher([Fernet.generate_key().decode()]))


@pytest.mark.parametrize("command_id", ["AAAAAAAAAAAAAAAAAAAAAA", "9EbPcUSst70PUUZ05uBGJw"])
def test_a_commands_keys_share_a_slot(command_id: str) -> None:
    keys = CommandKeys.of(command_id)
    assert one_slot(keys.meta, keys.events, keys.lease, keys.readers, keys.tombstone)
    assert not one_slot(keys.meta, CommandKeys.of("B" * 22).meta), "commands spread out"


def test_a_confirmations_state_and_record_share_a_slot() -> None:
    assert one_slot(*confirmation_keys("x" * 32))


@pytest.mark.parametrize("user", ["alice", "bob:with:colons", "{braces}"])
def test_a_users_history_and_its_index_share_a_slot(user: str) -> None:
    keys = [HistoryStore._key(user, "c1"), HistoryStore._key(user, "other"),
            HistoryStore._index_key(user)]
    assert one_slot(*keys)


def test_oauth_keys_written_together_share_a_slot(oauth: OAuthStore) -> None:
    grant = oauth._tokens_key("alice", "notes")
    assert grant == f"oauth:tokens:notes:{grant.rsplit(':', 1)[1]}", "stored grants keep names"
    assert one_slot(grant, oauth._reauth_key("alice", "notes"))
    assert one_slot(oauth._state_key("some-state"), oauth._bind_key("some-state"))
