"""Progressive discovery end to end: real app, real MCP servers serving the test catalog's tool
definitions, the real openai SDK against the scripted server (docs/discovery.md)."""

from __future__ import annotations

import json

from tests.fakes.openai_server import call, text, tool_turn
from tests.fixtures.mcp_servers import NOTES_TOOLS, TIME_TOOLS
from tests.mcp_servers.tool_catalog import SERVICES
from tests.services.tool_index.test_offering import catalog_service
from tests.sse import read_stream
from voice_mcp.services.tool_index import SEARCH_TOOLS

STREAM = "/api/voice/llm/stream"
TRIP = ("trains", "weather", "chess")  # tools described in Chinese and in English
TRIP_TOOLS = sum(len(SERVICES[s][1]) for s in TRIP)


async def command(client, auth, query: str, conversation_id: str = "conv-1"):
    resp = await client.post(STREAM, json={"query": query, "conversationId": conversation_id},
                             headers=auth)
    return await read_stream(resp)


def discovering(stream) -> dict:
    return next(p for p in stream.progress if p["type"] == "discovering")


async def test_within_the_budget_every_tool_is_offered(voice_client, time_service,
                                                      notes_stdio_service, openai_server,
                                                      auth_for) -> None:
    client = await voice_client(time_service, notes_stdio_service)
    openai_server.script(text("Hello."))
    stream = await command(client, auth_for(), "what's the weather in Paris")
    names = set(openai_server.requests[0].tool_names)
    expected = {f"time__{t}" for t in TIME_TOOLS} | {f"notes__{t}" for t in NOTES_TOOLS}
    assert names == expected | {"ask_user"}
    assert discovering(stream) | {"message": "", "timestamp": 0} == {
        "type": "discovering", "message": "", "timestamp": 0, "services": 2,
        "tools": len(expected), "offered": len(expected)}


async def test_past_the_budget_the_right_tools_are_offered_in_english_and_chinese(
        voice_client, time_service, notes_stdio_service, openai_server, auth_for) -> None:
    client = await voice_client(time_service, notes_stdio_service, catalog_service("trip", *TRIP),
                                tool_budget=8)
    openai_server.script(text("Sunny."), text("有票。"))
    english = await command(client, auth_for(), "what's the weather in Paris")
    chinese = await command(client, auth_for(), "查询明天北京到上海的火车票", "conv-2")
    first, second = (r.tool_names for r in openai_server.requests)
    assert "trip__get_weather_by_city" in first and "trip__get-tickets" not in first
    assert "trip__get-tickets" in second and "trip__get_weather_by_city" not in second
    for names in (first, second):
        assert len(names) <= 8 and names[-2:] == [SEARCH_TOOLS, "ask_user"]
    event = discovering(english)
    assert event["tools"] == len(TIME_TOOLS) + len(NOTES_TOOLS) + TRIP_TOOLS
    assert event["offered"] == len(first) - 2 and event["offered"] <= 6
    assert discovering(chinese)["offered"] == len(second) - 2
    assert english.done["timings"]["discover"] >= 0


async def test_search_tools_brings_a_tool_into_the_next_round(
        voice_client, time_service, notes_stdio_service, openai_server, auth_for) -> None:
    client = await voice_client(time_service, notes_stdio_service, catalog_service("trip", *TRIP),
                                tool_budget=8)
    openai_server.script(tool_turn(call(SEARCH_TOOLS, {"query": "chess turn"})),
                         tool_turn(call("trip__get_turn")), text("It is white's turn."))
    stream = await command(client, auth_for(), "who moves next on the board")
    first, second, third = openai_server.requests
    assert "trip__get_turn" not in first.tool_names
    [found] = second.tool_results
    listed = [t["name"] for t in json.loads(found["content"])["tools"]]
    assert "trip__get_turn" in listed
    assert "trip__get_turn" in second.tool_names and SEARCH_TOOLS in second.tool_names
    assert stream.done["status"] == "completed"
    assert [(r["service"], r["tool"], r["success"]) for r in stream.done["results"]] == [
        ("trip", "get_turn", True)]
    assert "chess.get_turn ran" in third.tool_results[-1]["content"]  # the real server answered
    # search_tools never reaches an MCP server and is never announced as a chosen tool.
    selected = [p["tools"] for p in stream.progress if p["type"] == "selecting"]
    assert selected == [["trip.get_turn"]]


async def test_a_bad_search_is_answered_as_an_error(voice_client, time_service,
                                                   notes_stdio_service, openai_server,
                                                   auth_for) -> None:
    client = await voice_client(time_service, notes_stdio_service, catalog_service("trip", *TRIP),
                                tool_budget=8)
    openai_server.script(tool_turn(call(SEARCH_TOOLS, {"query": 42})), text("Sorry."))
    stream = await command(client, auth_for(), "chess")
    [answer] = openai_server.requests[1].tool_results
    assert answer["content"].startswith("Error: search_tools needs")
    assert stream.done["results"] == []


async def test_tools_used_earlier_in_the_conversation_stay_offered(
        voice_client, time_service, notes_stdio_service, openai_server, auth_for) -> None:
    client = await voice_client(time_service, notes_stdio_service, catalog_service("trip", *TRIP),
                                tool_budget=8)
    openai_server.script(tool_turn(call("trip__get_weather_by_city", {"city": "Paris"})),
                         text("Sunny in Paris."), text("Rainy in Berlin."), text("Hm."))
    await command(client, auth_for(), "what's the weather in Paris")
    await command(client, auth_for(), "and in Berlin?")
    await command(client, auth_for(), "and in Berlin?", "another-conversation")
    assert "trip__get_weather_by_city" in openai_server.requests[2].tool_names
    assert "trip__get_weather_by_city" not in openai_server.requests[3].tool_names


async def test_with_an_embedding_model_meaning_ranks_too(voice_client, time_service,
                                                        notes_stdio_service, openai_server,
                                                        auth_for, redis_client) -> None:
    # The fake's hashing embedding reads "tiempo" as "weather", as a multilingual model would.
    openai_server.embedding_synonyms = {"tiempo": "weather"}
    client = await voice_client(time_service, notes_stdio_service, catalog_service("trip", *TRIP),
                                tool_budget=8, embedding_model="test-embedding")
    openai_server.script(text("Soleado."), text("Soleado."))
    await command(client, auth_for(), "¿qué tiempo hace?")
    assert "trip__get_weather_by_city" in openai_server.requests[0].tool_names
    tool_texts, query_texts = openai_server.embedding_inputs
    assert len(tool_texts) == len(TIME_TOOLS) + len(NOTES_TOOLS) + TRIP_TOOLS
    assert query_texts == ["¿qué tiempo hace?"]
    assert len(await redis_client.keys("vm:tool-emb:*")) == len(tool_texts)
    await command(client, auth_for(), "¿qué tiempo hace?", "conv-2")
    assert openai_server.embedding_inputs[2:] == [["¿qué tiempo hace?"]]  # vectors reused


async def test_an_approved_action_stays_offered_when_the_command_resumes(
        voice_client, time_service, notes_stdio_service, openai_server, auth_for) -> None:
    client = await voice_client(time_service, notes_stdio_service, catalog_service("trip", *TRIP),
                                tool_budget=8)
    openai_server.script(tool_turn(call("notes__delete_note", {"note_id": 1})),
                         text("Deleted."))
    # A query that ranks nothing of the notes server: the held tool is only offered pinned.
    held = await command(client, auth_for(), "tickets")
    assert held.done["status"] == "confirmation_required"
    resp = await client.post("/api/voice/confirm", headers=auth_for(), json={
        "confirmationId": held.done["confirmation"]["confirmationId"], "approved": True})
    done = await resp.json()
    assert done["status"] == "completed" and done["results"][0]["success"] is True
    resumed = openai_server.requests[-1]
    assert "notes__delete_note" in resumed.tool_names and SEARCH_TOOLS in resumed.tool_names
