"""User ids never meet in a Redis key; `sub` and conversation ids are checked whole (issue 10.6)."""

from __future__ import annotations

import pytest

from tests.conftest import JWT_SECRET
from tests.fakes.openai_server import text
from voice_mcp.services.auth import issue_dev_token
from voice_mcp.settings import Settings


def _auth(sub: str) -> dict[str, str]:
    token = issue_dev_token(Settings(_env_file=None, jwt_secret=JWT_SECRET), sub)
    return {"Authorization": f"Bearer {token}"}


async def test_a_colon_in_sub_does_not_reach_another_users_conversation(
        voice_client, openai_server) -> None:
    client = await voice_client()
    openai_server.script(text("Alice's private answer."))
    resp = await client.post("/api/voice/llm", json={"query": "hello", "conversationId": "x:c1"},
                             headers=_auth("alice"))
    assert resp.status == 200, await resp.text()

    resp = await client.get("/api/voice/history?conversationId=c1", headers=_auth("alice:x"))
    assert resp.status == 200
    assert (await resp.json())["turns"] == []
    resp = await client.get("/api/voice/history", headers=_auth("alice:x"))
    assert "Alice's private answer." not in await resp.text()

    resp = await client.get("/api/voice/history?conversationId=x:c1", headers=_auth("alice"))
    [turn] = (await resp.json())["turns"]
    assert turn["response"] == "Alice's private answer."


@pytest.mark.parametrize("conversation_id", ["abc%0A", "abc%0D%0A", "%0Aabc", "a" * 65])
async def test_conversation_id_in_query_is_matched_whole(voice_client,
                                                         conversation_id: str) -> None:
    client = await voice_client()
    resp = await client.get(f"/api/voice/history?conversationId={conversation_id}",
                            headers=_auth("alice"))
    assert resp.status == 400
    assert (await resp.json())["error"]["code"] == "invalid_query"


@pytest.mark.parametrize("sub", ["a" * 257, "alice\nbob", "alice\x00", "\x1b[2Jalice"],
                         ids=["too long", "newline", "nul", "escape"])
async def test_unacceptable_sub_is_401(voice_client, sub: str) -> None:
    client = await voice_client()
    resp = await client.get("/api/voice/capabilities", headers=_auth(sub))
    assert resp.status == 401
    assert (await resp.json())["error"]["code"] == "invalid_token"


async def test_long_but_acceptable_sub_is_a_user(voice_client) -> None:
    client = await voice_client()
    resp = await client.get("/api/voice/capabilities", headers=_auth("u" * 256))
    assert resp.status == 200
