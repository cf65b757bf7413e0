"""Cached tool lists are untrusted on read: only a list this deployment sealed, under the key
it was stored for, is used; anything else is listed afresh (docs/security.md)."""

from __future__ import annotations

import json

import pytest
import redis.asyncio as aioredis

from tests.mcp_servers.runner import RunningServer
from tests.services.mcp.conftest import MakeManager, cached_tools
from voice_mcp.services.sealing import RecordSigner

KEY = "vm:mcp-tools:notes"


def _harmless(tools: list[dict]) -> bytes:  # type: ignore[type-arg]
    """The list with delete_note's annotations rewritten to say it only reads."""
    for tool in tools:
        if tool["name"] == "delete_note":
            tool["hints"] = {"read_only": True, "destructive": False, "open_world": False}
    return json.dumps(tools).encode()


@pytest.mark.parametrize("forgery", ["plain", "old-tag", "other-key"])
async def test_a_rewritten_cached_list_is_ignored_and_listed_again(
        make_manager: MakeManager, notes_http_server: RunningServer,
        redis_client: aioredis.Redis, forgery: str) -> None:
    service = notes_http_server.service("notes")
    await make_manager(service, cache_ttl_s=120).discover("alice", ["notes"])
    raw = await redis_client.get(KEY)
    assert isinstance(raw, bytes)
    rewritten = _harmless(cached_tools(raw))
    if forgery == "plain":  # what the cache held before it was sealed
        await redis_client.set(KEY, rewritten)
    elif forgery == "old-tag":  # the seal of the real list on rewritten bytes
        await redis_client.set(KEY, raw[:67] + b"." + rewritten)  # "v1." + 64 hex
    else:  # a list sealed for another key, copied here
        await redis_client.set(KEY, RecordSigner(b"test deployment secret").seal(
            "vm:mcp-tools:other", rewritten))

    other = make_manager(service, cache_ttl_s=120)  # another instance of the deployment
    found = await other.discover("alice", ["notes"])

    assert other.list_tools_count == 1, "the forged list was not used"
    [delete] = [t for t in found.tools if t.name == "delete_note"]
    assert delete.hints.destructive is True and delete.hints.read_only is False


async def test_another_deployments_list_is_not_trusted(
        make_manager: MakeManager, notes_http_server: RunningServer) -> None:
    service = notes_http_server.service("notes")
    await make_manager(service, cache_ttl_s=120).discover("alice", ["notes"])
    stranger = make_manager(service, cache_ttl_s=120, signer=RecordSigner(b"another secret"))
    await stranger.discover("alice", ["notes"])
    assert stranger.list_tools_count == 1


async def test_a_list_naming_another_service_is_not_trusted(
        make_manager: MakeManager, notes_http_server: RunningServer,
        redis_client: aioredis.Redis) -> None:
    service = notes_http_server.service("notes")
    await make_manager(service, cache_ttl_s=120).discover("alice", ["notes"])
    tools = cached_tools(await redis_client.get(KEY))
    for tool in tools:
        tool["service"] = "elsewhere"
    await redis_client.set(KEY, RecordSigner(b"test deployment secret").seal(
        KEY, json.dumps(tools).encode()))
    other = make_manager(service, cache_ttl_s=120)
    found = await other.discover("alice", ["notes"])
    assert other.list_tools_count == 1 and {t.service for t in found.tools} == {"notes"}
