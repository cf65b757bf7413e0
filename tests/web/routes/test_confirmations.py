"""Risky actions wait for approval: hold, approve, decline, expiry, reuse, races, two instances."""

from __future__ import annotations

import asyncio
import time

import pytest

from tests.conftest import JWT_SECRET
from tests.fakes.openai_server import call, text, tool_results, tool_turn
from tests.fixtures.mcp_servers import make_catalog
from tests.fixtures.openai_server import settings_for
from tests.sse import read_stream
from voice_mcp.web import keys
from voice_mcp.web.app import create_app

LIST: tuple[str, dict[str, object]] = ("notes__list_notes", {})
DELETE: tuple[str, dict[str, object]] = ("notes__delete_note", {"note_id": 1})
CONFIRM = "/api/voice/confirm"


@pytest.fixture
async def notes(voice_client, notes_http_server):
    """The app with the notes server over HTTP (whose calls the test can count)."""
    client = await voice_client(notes_http_server.service("notes"))
    return client, notes_http_server.stats


async def _hold_delete(client, openai_server, auth, *, read_first: bool = True) -> dict:
    calls = [LIST, DELETE] if read_first else [DELETE]
    openai_server.script(tool_turn(*calls))
    resp = await client.post("/api/voice/llm", json={"query": "list then delete note 1",
                                                     "conversationId": "conv"}, headers=auth)
    done = await resp.json()
    assert done["status"] == "confirmation_required", done
    return done


async def test_mixed_command_runs_the_read_and_holds_the_delete(notes, openai_server,
                                                                auth_for) -> None:
    client, stats = notes
    openai_server.script(tool_turn(LIST, DELETE))
    stream = await read_stream(await client.post(
        "/api/voice/llm/stream", json={"query": "list then delete note 1"}, headers=auth_for()))
    assert stream.types == ["analyzing", "discovering", "selecting", "executing", "executed",
                            "confirmation_required"]
    held = stream.progress[-1]
    done = stream.done
    assert done["status"] == "confirmation_required" and done["success"] is False
    confirmation = done["confirmation"]
    assert held["confirmationId"] == confirmation["confirmationId"]
    assert len(confirmation["confirmationId"]) >= 22
    assert confirmation["expiresAt"] > time.time() * 1000
    assert confirmation["actions"] == [{"service": "notes", "tool": "delete_note",
                                        "arguments": {"note_id": 1}, "risk": "high",
                                        "reason": confirmation["actions"][0]["reason"]}]
    assert confirmation["actions"][0]["reason"]
    assert [r["tool"] for r in done["results"]] == ["list_notes"]
    assert stats.tool_calls["list_notes"] == 1 and stats.tool_calls["delete_note"] == 0
    assert len(openai_server.requests) == 1


async def test_approval_runs_exactly_the_frozen_action_once(notes, openai_server,
                                                            auth_for) -> None:
    client, stats = notes
    held = await _hold_delete(client, openai_server, auth_for())
    confirmation_id = held["confirmation"]["confirmationId"]
    openai_server.script(text("Deleted note 1."))
    # Anything beside the id and the decision is ignored: the stored actions run.
    resp = await client.post(CONFIRM, json={
        "confirmationId": confirmation_id, "approved": True,
        "actions": [{"service": "notes", "tool": "delete_note", "arguments": {"note_id": 2}}]},
        headers=auth_for())
    assert resp.status == 200
    done = await resp.json()
    assert done["status"] == "completed" and done["response"] == "Deleted note 1."
    assert done["conversationId"] == "conv" and done["query"] == "list then delete note 1"
    [result] = done["results"]
    assert result["tool"] == "delete_note" and result["arguments"] == {"note_id": 1}
    assert result["success"] is True and result["output"] == "Deleted note 1"
    assert stats.tool_calls["delete_note"] == 1
    # The LLM saw both results, answering the ids of the calls it made.
    after = openai_server.requests[-1].body
    answered = {m["tool_call_id"] for m in after["messages"] if m["role"] == "tool"}
    asked = {c["id"] for m in after["messages"] if m["role"] == "assistant"
             for c in m.get("tool_calls") or []}
    assert answered == asked and len(asked) == 2
    again = await client.post(CONFIRM, json={"confirmationId": confirmation_id,
                                             "approved": True}, headers=auth_for())
    assert again.status == 409 and (await again.json())["error"]["code"] == "confirmation_used"
    assert stats.tool_calls["delete_note"] == 1


async def test_approval_as_sse(notes, openai_server, auth_for) -> None:
    client, _stats = notes
    held = await _hold_delete(client, openai_server, auth_for(), read_first=False)
    openai_server.script(text("Done."))
    resp = await client.post(CONFIRM, json={"confirmationId": held["confirmation"][
        "confirmationId"], "approved": True},
        headers={**auth_for(), "Accept": "text/event-stream"})
    stream = await read_stream(resp)
    assert stream.types == ["executing", "executed", "summarizing"]
    assert stream.done["status"] == "completed"
    # An approval's stream is a command of its own, which can be resumed and polled too.
    command_id = stream.progress[0]["commandId"]
    assert stream.done["commandId"] == command_id != held["commandId"]
    status = await client.get(f"/api/voice/commands/{command_id}", headers=auth_for())
    assert (await status.json())["done"] == stream.done
    replay = await read_stream(await client.get(f"/api/voice/commands/{command_id}/events",
                                                headers={**auth_for(), "Last-Event-ID": "2"}))
    assert [e[0] for e in replay.events] == [str(n) for n in range(3, len(stream.events) + 1)]


async def test_decline_runs_nothing_and_is_remembered(notes, openai_server, auth_for) -> None:
    client, stats = notes
    held = await _hold_delete(client, openai_server, auth_for(), read_first=False)
    resp = await client.post(CONFIRM, json={"confirmationId": held["confirmation"][
        "confirmationId"], "approved": False}, headers=auth_for())
    done = await resp.json()
    assert done["status"] == "cancelled" and done["results"] == []
    assert stats.tool_calls["delete_note"] == 0 and len(openai_server.requests) == 1
    history = await (await client.get("/api/voice/history?conversationId=conv",
                                      headers=auth_for())).json()
    assert [t["status"] for t in history["turns"]] == ["confirmation_required", "cancelled"]


@pytest.mark.parametrize(("body", "status", "code"), [
    ({"confirmationId": "x" * 32, "approved": True}, 404, "confirmation_not_found"),
    ({"confirmationId": "short", "approved": True}, 400, "invalid_confirmation_id"),
    ({"confirmationId": "x" * 32, "approved": "yes"}, 400, "invalid_body"),
    ({"approved": True}, 400, "invalid_body"),
])
async def test_bad_confirmations(notes, auth_for, body, status, code) -> None:
    client, _stats = notes
    resp = await client.post(CONFIRM, json=body, headers=auth_for())
    assert resp.status == status and (await resp.json())["error"]["code"] == code


async def test_another_users_confirmation_does_not_exist(notes, openai_server,
                                                         auth_for) -> None:
    client, stats = notes
    held = await _hold_delete(client, openai_server, auth_for("alice"), read_first=False)
    body = {"confirmationId": held["confirmation"]["confirmationId"], "approved": True}
    resp = await client.post(CONFIRM, json=body, headers=auth_for("mallory"))
    assert resp.status == 404
    assert stats.tool_calls["delete_note"] == 0
    openai_server.script(text("Deleted."))
    assert (await client.post(CONFIRM, json=body, headers=auth_for("alice"))).status == 200


async def test_expired_confirmation_is_410(notes, openai_server, auth_for) -> None:
    client, stats = notes
    held = await _hold_delete(client, openai_server, auth_for(), read_first=False)
    store = client.app[keys.ORCHESTRATOR].deps.confirmations
    store._clock = lambda: time.time() + 3600  # an hour later, without waiting an hour
    resp = await client.post(CONFIRM, json={"confirmationId": held["confirmation"][
        "confirmationId"], "approved": True}, headers=auth_for())
    assert resp.status == 410 and (await resp.json())["error"]["code"] == "confirmation_expired"
    assert stats.tool_calls["delete_note"] == 0


async def test_two_concurrent_approvals_run_once(notes, openai_server, auth_for) -> None:
    client, stats = notes
    held = await _hold_delete(client, openai_server, auth_for(), read_first=False)
    openai_server.responder = text("Deleted.")
    body = {"confirmationId": held["confirmation"]["confirmationId"], "approved": True}
    responses = await asyncio.gather(*(client.post(CONFIRM, json=body, headers=auth_for())
                                       for _ in range(5)))
    assert sorted(r.status for r in responses) == [200, 409, 409, 409, 409]
    assert stats.tool_calls["delete_note"] == 1


async def test_hold_on_one_instance_approve_on_another(aiohttp_client, openai_server, redis_url,
                                                       notes_http_server, auth_for) -> None:
    catalog = make_catalog(notes_http_server.service("notes"))
    settings = settings_for(openai_server, redis_url=redis_url, jwt_secret=JWT_SECRET)
    first = await aiohttp_client(create_app(settings, catalog=catalog))
    second = await aiohttp_client(create_app(settings, catalog=catalog))
    held = await _hold_delete(first, openai_server, auth_for(), read_first=False)
    openai_server.script(text("Deleted."))
    resp = await second.post(CONFIRM, json={"confirmationId": held["confirmation"][
        "confirmationId"], "approved": True}, headers=auth_for())
    assert (await resp.json())["status"] == "completed"
    assert notes_http_server.stats.tool_calls["delete_note"] == 1


async def test_prompt_injection_cannot_run_a_risky_tool(notes, openai_server, auth_for) -> None:
    client, stats = notes

    def gullible(body: dict) -> object:
        """An LLM that obeys whatever a tool result tells it."""
        results = tool_results(body)
        if results and "IGNORE PREVIOUS INSTRUCTIONS" in results[-1]["content"]:
            return call("notes__delete_note", {"note_id": 1})
        return call("notes__read_web_page", {"url": "https://garden.example"})

    openai_server.responder = gullible
    resp = await client.post("/api/voice/llm/stream", json={"query": "summarise the garden page"},
                             headers=auth_for())
    stream = await read_stream(resp)
    assert stream.done["status"] == "confirmation_required"
    assert stream.done["confirmation"]["actions"][0]["tool"] == "delete_note"
    assert stats.tool_calls["read_web_page"] == 1 and stats.tool_calls["delete_note"] == 0


async def test_medium_threshold_holds_writes(voice_client, notes_http_server, openai_server,
                                             auth_for) -> None:
    client = await voice_client(notes_http_server.service("notes"), confirm_risk="medium")
    openai_server.script(call("notes__add_note", {"text": "water the plants"}))
    done = await (await client.post("/api/voice/llm", json={"query": "add a note"},
                                    headers=auth_for())).json()
    assert done["status"] == "confirmation_required"
    assert done["confirmation"]["actions"][0]["risk"] == "medium"
    assert notes_http_server.stats.tool_calls["add_note"] == 0


async def test_catalog_override_raises_a_read_to_high(voice_client, notes_http_server,
                                                      openai_server, auth_for) -> None:
    service = notes_http_server.service("notes", risk={"list_*": "high"})
    client = await voice_client(service)
    openai_server.script(call("notes__list_notes"))
    done = await (await client.post("/api/voice/llm", json={"query": "list"},
                                    headers=auth_for())).json()
    assert done["status"] == "confirmation_required"
    assert notes_http_server.stats.tool_calls["list_notes"] == 0


async def test_after_approval_a_further_risky_call_is_held_again(notes, openai_server,
                                                                 auth_for) -> None:
    client, stats = notes
    held = await _hold_delete(client, openai_server, auth_for(), read_first=False)
    openai_server.script(call("notes__send_email", {"to": "a@example.com", "subject": "s",
                                                    "body": "b"}))
    done = await (await client.post(CONFIRM, json={"confirmationId": held["confirmation"][
        "confirmationId"], "approved": True}, headers=auth_for())).json()
    assert done["status"] == "confirmation_required"
    assert done["confirmation"]["actions"][0]["tool"] == "send_email"
    assert stats.tool_calls["delete_note"] == 1 and stats.tool_calls["send_email"] == 0
