"""Commands that use an OAuth-connected MCP service: the real app, the scripted LLM, a real
authorization server, an OAuth-protected MCP server and a local stdio service beside it."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from cryptography.fernet import Fernet

from tests.fakes.openai_server import call, text, tool_turn
from tests.oauth_server import OAuthServers
from tests.sse import read_stream
from tests.web.routes.oauth_support import build_oauth_client, connect_over_http, services_of
from voice_mcp.services.catalog import ServiceConfig
from voice_mcp.services.store import free_port
from voice_mcp.web import keys

WHOAMI = call("notes__whoami")
TOKYO = call("time__get_current_time", {"timezone": "Asia/Tokyo"})
TIME = ServiceConfig(id="time", title="Time", transport="stdio",
                     command=["python", "-m", "mcp_server_time", "--local-timezone", "UTC"])
# Tests that check "the other services still work" add the time service (a stdio child
# that takes a second or two to start, so the others go without it).
WITH_TIME = pytest.mark.parametrize("local_services", [[TIME]], ids=["with-time"])


@pytest.fixture
def local_services() -> list[ServiceConfig]:
    return []


@pytest.fixture
async def app(oauth_servers: OAuthServers, aiohttp_client, openai_server, redis_url,
              local_services: list[ServiceConfig]) -> TestClient[Any, Any]:
    """The app over the OAuth-protected notes service (and `local_services`).

    `oauth_servers` comes first so that it stops last, after the app closed its sessions.
    """
    return await build_oauth_client(aiohttp_client, openai_server, redis_url,
                                    Fernet.generate_key().decode(), oauth_servers.service(),
                                    *local_services)


@pytest.fixture
def connect(app: TestClient[Any, Any], oauth_servers: OAuthServers, auth_for):
    """Connect the notes service for a user over HTTP, as the browser would."""

    async def run(user: str = "alice") -> None:
        resp = await connect_over_http(app, oauth_servers, auth_for(user), user)
        assert resp.status == 200, await resp.text()

    return run


@pytest.fixture
def command(app: TestClient[Any, Any], openai_server, auth_for):
    """Run one command for a user with the given LLM turns; the done payload."""

    async def run(user: str, *turns: Any, query: str = "who am I") -> dict[str, Any]:
        openai_server.script(*turns)
        resp = await app.post("/api/voice/llm", json={"query": query}, headers=auth_for(user))
        assert resp.status == 200, await resp.text()
        done: dict[str, Any] = await resp.json()
        return done

    return run


def notes_tools(names: list[str]) -> set[str]:
    return {n for n in names if n.startswith("notes__")}


def user_sessions(app: TestClient[Any, Any], user: str) -> list[Any]:
    return [s for s in app.app[keys.MCP].sessions
            if s.service.id == "notes" and s.user_id == user]


async def test_each_user_reaches_the_service_with_their_own_grant(
        app, connect, command, openai_server, auth_for) -> None:
    await connect("alice")

    done = await command("alice", WHOAMI, text("You are alice."))
    assert done["status"] == "completed" and done["response"] == "You are alice."
    [result] = done["results"]
    assert (result["service"], result["tool"], result["success"]) == ("notes", "whoami", True)
    assert result["output"] == "alice"
    assert notes_tools(openai_server.requests[0].tool_names) == {
        "notes__whoami", "notes__list_notes", "notes__add_note"}

    # Bob has not connected: the service's tools are not offered to the LLM at all.
    openai_server.requests.clear()
    done = await command("bob", text("I cannot reach your notes."))
    assert done["status"] == "completed" and done["results"] == []
    assert openai_server.requests[0].tool_names == ["ask_user"]
    caps = await (await app.get("/api/voice/capabilities", headers=auth_for("bob"))).json()
    notes = next(s for s in caps["services"] if s["id"] == "notes")
    assert notes["connected"] is False and notes["tools"] == []

    # Once Bob connects his own account, each one gets their own identity.
    await connect("bob")
    assert (await command("bob", WHOAMI, text("bob")))["results"][0]["output"] == "bob"
    assert (await command("alice", WHOAMI, text("alice")))["results"][0]["output"] == "alice"
    assert len(user_sessions(app, "alice")) == len(user_sessions(app, "bob")) == 1


async def test_refresh_ahead_of_expiry_during_a_command(app, connect, command,
                                                        oauth_servers: OAuthServers) -> None:
    auth_server = oauth_servers.auth_server
    auth_server.access_token_lifetime = 30  # less than the refresh leeway: stale at once
    await connect("alice")
    auth_server.access_token_lifetime = 3600
    [first] = auth_server.tokens_of("alice")

    done = await command("alice", WHOAMI, text("You are alice."))

    assert done["status"] == "completed" and done["results"][0]["output"] == "alice"
    assert auth_server.counts["refresh_token"] == 1
    assert first.refresh_revoked, "the refresh token was rotated"
    [_, second] = auth_server.tokens_of("alice")
    stored = await app.app[keys.OAUTH].access_token("alice", oauth_servers.service())
    assert stored == second.access_token


async def test_concurrent_commands_after_expiry_refresh_once(
        app, connect, command, openai_server, oauth_servers: OAuthServers, auth_for) -> None:
    await connect("alice")
    assert (await command("alice", WHOAMI, text("alice")))["results"][0]["success"] is True
    oauth_servers.auth_server.expire_access_tokens("alice")
    # Each command calls whoami once, then answers with its result.
    openai_server.responder = lambda body: (
        text("done") if body["messages"][-1]["role"] == "tool" else WHOAMI)

    async def ask() -> dict[str, Any]:
        resp = await app.post("/api/voice/llm", json={"query": "who am I"}, headers=auth_for())
        done: dict[str, Any] = await resp.json()
        return done

    async with asyncio.timeout(20):
        answers = await asyncio.gather(*(ask() for _ in range(4)))

    assert [a["results"][0]["output"] for a in answers] == ["alice"] * 4
    assert oauth_servers.auth_server.counts["refresh_token"] == 1


async def test_refresh_after_the_mcp_server_refuses_the_token(
        app, connect, command, oauth_servers: OAuthServers) -> None:
    await connect("alice")
    assert (await command("alice", WHOAMI, text("alice")))["results"][0]["success"] is True
    [session] = user_sessions(app, "alice")
    oauth_servers.auth_server.expire_access_tokens("alice")

    done = await command("alice", WHOAMI, text("Still alice."))

    assert done["status"] == "completed" and done["results"][0]["output"] == "alice"
    assert done["unavailable"] == {}
    assert oauth_servers.auth_server.counts["refresh_token"] == 1
    assert user_sessions(app, "alice") == [session], "the warm session was kept"


@WITH_TIME
async def test_failed_refresh_during_a_call_needs_reauth_and_the_rest_works(
        app, connect, command, oauth_servers: OAuthServers, auth_for) -> None:
    auth_server = oauth_servers.auth_server
    await connect("alice")
    assert (await command("alice", WHOAMI, text("alice")))["results"][0]["success"] is True
    auth_server.fail_refresh = True
    auth_server.expire_access_tokens("alice")

    done = await command("alice", tool_turn(WHOAMI, TOKYO), text("Time only."),
                         query="who am I and what time is it in Tokyo")

    assert done["status"] == "completed" and done["response"] == "Time only."
    by_service = {r["service"]: r for r in done["results"]}
    assert by_service["time"]["success"] is True and "Asia/Tokyo" in by_service["time"]["output"]
    assert by_service["notes"]["success"] is False
    assert by_service["notes"]["error"].startswith("reauth_required")
    assert done["unavailable"] == {"notes": "reauth_required"}
    notes = (await services_of(app, auth_for()))["notes"]
    assert notes["needsReauth"] is True and notes["connected"] is False

    # Reconnecting clears the mark; the next command reaches the service again.
    auth_server.fail_refresh = False
    await connect("alice")
    notes = (await services_of(app, auth_for()))["notes"]
    assert notes["needsReauth"] is False and notes["connected"] is True
    done = await command("alice", WHOAMI, text("alice"))
    assert done["results"][0]["output"] == "alice" and done["unavailable"] == {}


async def test_provider_down_during_refresh_keeps_the_grant(
        app, connect, command, oauth_servers: OAuthServers, auth_for, redis_client) -> None:
    await connect("alice")
    assert (await command("alice", WHOAMI, text("alice")))["results"][0]["success"] is True
    # The token endpoint stops answering: the cached discovery result, and the metadata a
    # new discovery (after the MCP server's 401) finds, point at a dead port.
    dead = f"http://127.0.0.1:{free_port()}/token"
    meta = json.loads(await redis_client.get("oauth:meta:v2:notes"))
    meta["metadata"]["token_endpoint"] = dead
    await redis_client.set("oauth:meta:v2:notes", json.dumps(meta))
    oauth_servers.auth_server.metadata_overrides = {"token_endpoint": dead}
    oauth_servers.auth_server.expire_access_tokens("alice")

    done = await command("alice", WHOAMI, text("Notes are down."))

    assert done["unavailable"] == {"notes": "oauth_unavailable"}
    assert done["results"][0]["error"].startswith("oauth_unavailable")
    notes = (await services_of(app, auth_for()))["notes"]
    assert notes["connected"] is True and notes["needsReauth"] is False

    oauth_servers.auth_server.metadata_overrides = {}
    await redis_client.delete("oauth:meta:v2:notes")  # the provider is back: discovered again
    done = await command("alice", WHOAMI, text("alice"))
    assert done["results"][0]["output"] == "alice" and done["unavailable"] == {}
    assert oauth_servers.auth_server.counts["refresh_token"] == 1


@WITH_TIME
async def test_failed_refresh_during_discovery_is_reported_not_raised(
        app, connect, openai_server, oauth_servers: OAuthServers, auth_for) -> None:
    await connect("alice")
    oauth_servers.auth_server.fail_refresh = True
    oauth_servers.auth_server.expire_access_tokens("alice")
    openai_server.script(TOKYO, text("It is 9 pm in Tokyo."))

    stream = await read_stream(await app.post(
        "/api/voice/llm/stream", json={"query": "time in Tokyo"}, headers=auth_for()))

    discovering = stream.progress[1]
    assert discovering["type"] == "discovering"
    assert discovering["unavailable"] == {"notes": "reauth_required"}
    assert stream.errors == []
    done = stream.done
    assert done["status"] == "completed" and done["results"][0]["success"] is True
    assert done["unavailable"] == {"notes": "reauth_required"}
    assert notes_tools(openai_server.requests[0].tool_names) == set()
    assert oauth_servers.auth_server.counts["refresh_token"] == 1, "refresh was tried"
    assert (await services_of(app, auth_for()))["notes"]["needsReauth"] is True

    # Marked: later commands skip the service without asking it or the authorization server.
    openai_server.requests.clear()
    openai_server.script(text("Nothing to do."))
    refreshes = oauth_servers.auth_server.counts["refresh_token"]
    done = await (await app.post("/api/voice/llm", json={"query": "hi"},
                                 headers=auth_for())).json()
    assert done["unavailable"] == {"notes": "reauth_required"}
    assert notes_tools(openai_server.requests[0].tool_names) == set()
    assert oauth_servers.auth_server.counts["refresh_token"] == refreshes


async def test_disconnect_closes_the_session_and_hides_the_tools(
        app, connect, command, openai_server, oauth_servers: OAuthServers, auth_for) -> None:
    await connect("alice")
    await connect("bob")
    await command("alice", WHOAMI, text("alice"))
    await command("bob", WHOAMI, text("bob"))
    [session] = user_sessions(app, "alice")

    resp = await app.delete("/api/services/notes", headers=auth_for("alice"))

    assert resp.status == 204
    assert session.finished.is_set() and user_sessions(app, "alice") == []
    assert len(user_sessions(app, "bob")) == 1, "other users keep theirs"
    openai_server.requests.clear()
    done = await command("alice", text("Your notes are not connected."))
    assert done["results"] == [] and done["unavailable"] == {}
    assert notes_tools(openai_server.requests[0].tool_names) == set()
    assert (await command("bob", WHOAMI, text("bob")))["results"][0]["output"] == "bob"


async def test_reconnecting_replaces_the_session(app, connect, command,
                                                 oauth_servers: OAuthServers) -> None:
    await connect("alice")
    await command("alice", WHOAMI, text("alice"))
    [old] = user_sessions(app, "alice")

    await connect("alice")

    assert old.finished.is_set()
    assert (await command("alice", WHOAMI, text("alice")))["results"][0]["output"] == "alice"
    [new] = user_sessions(app, "alice")
    assert new is not old
