"""A service's question mid-command, end to end: the `input_required` event, the JSON
endpoints' early answer, `POST /api/voice/commands/{id}/input` from this instance or another
(words, structured content, 422 keeping the question open), and the final payload after."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest

from tests.cluster import events_of, read_until
from tests.conftest import JWT_SECRET
from tests.fakes.openai_server import text, tool_turn
from tests.fixtures.mcp_servers import make_catalog
from tests.fixtures.openai_server import settings_for
from tests.mcp_servers.question_server import PAY_URL
from tests.mcp_servers.runner import RunningServer
from voice_mcp.web.app import create_app

PIZZA: tuple[str, dict[str, Any]] = ("questions__order_pizza", {})
PAY: tuple[str, dict[str, Any]] = ("questions__pay", {})


def _service(server: RunningServer) -> Any:
    return server.service("questions", title="Pizza Place",
                          risk={"order_pizza": "low", "pay": "low", "book_table": "low"})


def _asked(kind: str, data: dict[str, Any]) -> bool:
    return kind == "progress" and data.get("type") == "input_required"


def _input(command_id: str) -> str:
    return f"/api/voice/commands/{command_id}/input"


async def _order_pizza(client: Any, openai_server: Any, auth_for: Any,
                       *readings: str) -> tuple[Any, str, Any]:
    """Start the pizza order as a stream; its events, its command id and the first question.
    `readings`: what the LLM answers when it is asked to read words the rules cannot map."""
    openai_server.script(tool_turn(PIZZA), *map(text, readings), text("Ordered."))
    resp = await client.post("/api/voice/llm/stream", json={"query": "order a pizza"},
                             headers=auth_for())
    events = events_of(resp)
    seen = await read_until(events, _asked)
    return events, seen[0][2]["commandId"], seen[-1][2]


def _recording(input_id: str, audio: bytes) -> aiohttp.FormData:
    body = aiohttp.FormData()
    body.add_field("inputId", input_id)
    body.add_field("audio", audio, filename="answer.wav", content_type="audio/wav")
    return body


@pytest.fixture
async def pair(aiohttp_client, openai_server, redis_url, question_server):  # type: ignore[no-untyped-def]
    """Two instances of the app on one Redis, over the question server."""
    catalog = make_catalog(_service(question_server))
    settings = settings_for(openai_server, redis_url=redis_url, jwt_secret=JWT_SECRET,
                            llm_max_retries=0)
    return (await aiohttp_client(create_app(settings, catalog=catalog)),
            await aiohttp_client(create_app(settings, catalog=catalog)))


async def test_the_json_endpoint_answers_early_and_the_end_comes_by_id(
        pair, openai_server, auth_for, question_server) -> None:
    first, _ = pair
    openai_server.script(tool_turn(PAY), text("Paid."))
    resp = await first.post("/api/voice/llm", json={"query": "pay the bill"},
                            headers=auth_for())
    early = await resp.json()
    assert resp.status == 200 and early["status"] == "input_required", early
    shown = early["input"]
    assert shown["mode"] == "url" and shown["url"] == PAY_URL
    assert shown["service"] == "questions" and shown["tool"] == "pay"
    assert shown["message"].startswith("Pizza Place asks: ")
    command_id = early["commandId"]

    resp = await first.post(_input(command_id), json={"inputId": shown["inputId"],
                                                      "action": "accept"}, headers=auth_for())
    assert resp.status == 202, await resp.text()
    events = await first.get(f"/api/voice/commands/{command_id}/events", headers=auth_for())
    seen = await read_until(events_of(events), lambda kind, _: kind == "done")
    assert seen[-1][2]["status"] == "completed" and seen[-1][2]["response"] == "Paid."
    status = await (await first.get(f"/api/voice/commands/{command_id}",
                                     headers=auth_for())).json()
    assert status["status"] == "completed"
    assert question_server.stats.tool_calls["pay"] == 2


async def test_asked_on_one_instance_answered_by_voice_on_the_other(
        pair, openai_server, auth_for, question_server) -> None:
    first, second = pair
    events, command_id, size = await _order_pizza(first, openai_server, auth_for, "{}")
    assert size["fields"][0]["enum"] == ["small", "large"] and size["expiresAt"] > 0

    answer = await second.post(_input(command_id), json={"inputId": size["inputId"],
                                                         "answer": "umm"}, headers=auth_for())
    assert answer.status == 422 and "size" in (await answer.json())["error"]["message"]
    answer = await second.post(_input(command_id), json={"inputId": size["inputId"],
                                                         "answer": "the large one"},
                               headers=auth_for())
    assert answer.status == 202, await answer.text()

    count = (await read_until(events, _asked))[-1][2]
    assert count["message"] == "Pizza Place asks: How many?"
    answer = await second.post(_input(command_id), json={
        "inputId": count["inputId"], "action": "accept", "content": {"count": 2}},
        headers=auth_for())
    assert answer.status == 202
    done = (await read_until(events, lambda kind, _: kind == "done"))[-1][2]
    assert done["status"] == "completed"
    [result] = done["results"]
    assert result["output"] == 'order: accept {"size": "large"}; accept {"count": 2}'


async def test_an_answer_for_another_users_command_or_question_is_not_found(
        pair, openai_server, auth_for) -> None:
    first, second = pair
    openai_server.script(tool_turn(PAY), text("Paid."))
    early = await (await first.post("/api/voice/llm", json={"query": "pay"},
                                    headers=auth_for())).json()
    url, input_id = _input(early["commandId"]), early["input"]["inputId"]
    for client in (first, second):
        resp = await client.post(url, json={"inputId": input_id, "action": "accept"},
                                 headers=auth_for("mallory"))
        assert resp.status == 404
        resp = await client.post(url, json={"inputId": "in_nope", "action": "accept"},
                                 headers=auth_for())
        assert resp.status == 404 and (await resp.json())["error"]["code"] == "input_not_found"
    resp = await second.post(url, json={"inputId": input_id, "action": "decline"},
                             headers=auth_for())
    assert resp.status == 202



async def test_a_spoken_answer_is_transcribed_then_mapped(
        pair, openai_server, auth_for, speech_samples) -> None:
    first, second = pair
    events, command_id, size = await _order_pizza(first, openai_server, auth_for)
    body = _recording(size["inputId"], speech_samples.read("wav"))
    openai_server.script_transcription("Small, please.")
    answer = await second.post(_input(command_id), data=body, headers=auth_for())
    assert answer.status == 202, await answer.text()
    count = (await read_until(events, _asked))[-1][2]
    openai_server.script_transcription("Never mind.")
    body = _recording(count["inputId"], speech_samples.read("wav"))
    assert (await first.post(_input(command_id), data=body, headers=auth_for())).status == 202
    done = (await read_until(events, lambda kind, _: kind == "done"))[-1][2]
    assert done["results"][0]["output"] == 'order: accept {"size": "small"}; cancel null'


async def test_an_answer_never_approves_a_held_action(voice_client, notes_http_server,
                                                      openai_server, auth_for) -> None:
    client = await voice_client(notes_http_server.service("notes"))
    openai_server.script(tool_turn(("notes__delete_note", {"note_id": 1})))
    held = await (await client.post("/api/voice/llm", json={"query": "delete note 1"},
                                    headers=auth_for())).json()
    assert held["status"] == "confirmation_required"
    confirmation_id = held["confirmation"]["confirmationId"]
    for body in ({"inputId": confirmation_id, "action": "accept"},
                 {"inputId": confirmation_id, "answer": "yes"}):
        resp = await client.post(_input(held["commandId"]), json=body, headers=auth_for())
        assert resp.status == 409 and (await resp.json())["error"]["code"] == "input_closed"
    assert notes_http_server.stats.tool_calls["delete_note"] == 0



async def _book_table(client: Any, openai_server: Any, auth_for: Any) -> tuple[Any, str, Any]:
    """Start a table booking as a stream; its events, its command id and the question."""
    openai_server.script(tool_turn(("questions__book_table", {})))
    resp = await client.post("/api/voice/llm/stream", json={"query": "book a table"},
                             headers=auth_for())
    events = events_of(resp)
    seen = await read_until(events, _asked)
    return events, seen[0][2]["commandId"], seen[-1][2]


async def test_two_fields_from_one_sentence_are_read_by_the_llm_and_checked(
        pair, openai_server, auth_for, question_server) -> None:
    first, second = pair
    events, command_id, table = await _book_table(first, openai_server, auth_for)
    said = {"inputId": table["inputId"], "answer": "two people at seven pm"}
    openai_server.script(text('{"people": 2, "time": "seven pm"}'))  # not the schema's format
    answer = await second.post(_input(command_id), json=said, headers=auth_for())
    assert answer.status == 422, await answer.text()
    error = (await answer.json())["error"]
    assert error["code"] == "input_invalid" and "time: 'seven pm' does not match" in \
        error["message"]

    openai_server.script(text('{"people": 2, "time": "19:00"}'), text("Booked for two."))
    answer = await second.post(_input(command_id), json=said, headers=auth_for())
    assert answer.status == 202, await answer.text()
    done = (await read_until(events, lambda kind, _: kind == "done"))[-1][2]
    assert done["status"] == "completed" and done["response"] == "Booked for two."
    assert done["results"][0]["output"] == 'got: accept {"people": 2, "time": "19:00"}'
    reading = openai_server.requests[1]
    assert reading.response_format["type"] == "json_schema"
    assert "two people at seven pm" in reading.messages[1]["content"]


async def test_a_failing_llm_leaves_the_question_open(pair, openai_server, auth_for) -> None:
    first, _ = pair
    events, command_id, table = await _book_table(first, openai_server, auth_for)
    openai_server.fail(500)
    answer = await first.post(_input(command_id), json={
        "inputId": table["inputId"], "answer": "two people at seven pm"}, headers=auth_for())
    assert answer.status == 503, await answer.text()
    error = (await answer.json())["error"]
    assert error["code"] == "llm_unavailable" and "still open" in error["message"]

    openai_server.script(text("Booked."))
    answer = await first.post(_input(command_id), json={
        "inputId": table["inputId"], "action": "accept",
        "content": {"people": 3, "time": "20:30"}}, headers=auth_for())
    assert answer.status == 202, await answer.text()
    done = (await read_until(events, lambda kind, _: kind == "done"))[-1][2]
    assert done["results"][0]["output"] == 'got: accept {"people": 3, "time": "20:30"}'
