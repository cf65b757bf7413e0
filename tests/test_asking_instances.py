"""A service's question across two real `voice-mcp serve` processes on one Redis: asked on
the instance running the command, answered on the other (words, structured content, and
words the other instance's LLM reads into two fields), docs/api.md "Services that ask"."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

import aiohttp
import pytest

from tests.cluster import RestartableRedis, events_of, read_until, two_instances, wait_ready
from tests.fakes.openai_server import call, text
from tests.mcp_servers.question_server import build_question_server
from tests.mcp_servers.runner import RunningServer
from voice_mcp.services.auth import issue_dev_token
from voice_mcp.settings import Settings

SECRET = "asking-secret-" + "a" * 32
TOOLS = {"order a pizza": "questions__order_pizza", "book a table": "questions__book_table"}


def respond(body: dict[str, Any]) -> Any:
    """The LLM: the tool the query names; after its result, a short answer; asked to read
    the user's words into a form (structured output), the two fields of the table."""
    messages = body.get("messages", [])
    if body.get("response_format"):
        words = json.loads(messages[-1]["content"])["words"]
        return text(json.dumps({"people": 2, "time": "19:00"} if "seven" in words else {}))
    if messages and messages[-1].get("role") == "tool":
        return text("Done.")
    return call(TOOLS[str(messages[-1].get("content", ""))])


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    redis = RestartableRedis()
    redis.start()
    questions = RunningServer("streamable-http", build=build_question_server).start()
    entry = (f'[services.questions]\ntitle = "Pizza Place"\ntransport = "streamable-http"\n'
             f'url = "{questions.url}"\n[services.questions.risk]\norder_pizza = "low"\n'
             'book_table = "low"\n')
    try:
        with two_instances(redis.url, tmp_path_factory.mktemp("asking"), respond, SECRET,
                           services=entry) as found:
            yield {**found, "questions": questions}
    finally:
        questions.stop()
        redis.stop()


def auth() -> dict[str, str]:
    token = issue_dev_token(Settings(_env_file=None, jwt_secret=SECRET), "alice")  # type: ignore[call-arg]
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
async def session(cluster: dict[str, Any]) -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as client, asyncio.timeout(90):
        for name in ("a", "b"):
            await wait_ready(client, cluster[name].base)
        yield client


async def _ask(session: aiohttp.ClientSession, base: str, query: str) -> dict[str, Any]:
    """Start a command with the JSON endpoint; its early `input_required` answer."""
    resp = await session.post(f"{base}/api/voice/llm", json={"query": query}, headers=auth())
    early = await resp.json()
    assert resp.status == 200 and early["status"] == "input_required", early
    return dict(early)


async def _answer(session: aiohttp.ClientSession, base: str, command_id: str,
                  body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    resp = await session.post(f"{base}/api/voice/commands/{command_id}/input", json=body,
                              headers=auth())
    return resp.status, await resp.json()


async def test_asked_on_one_process_answered_on_the_other(cluster, session) -> None:
    a, b = cluster["a"], cluster["b"]
    early = await _ask(session, a.base, "order a pizza")
    command_id, size = early["commandId"], early["input"]
    status, _ = await _answer(session, b.base, command_id,
                              {"inputId": size["inputId"], "answer": "the large one"})
    assert status == 202
    followed = await session.get(f"{b.base}/api/voice/commands/{command_id}/events",
                                 headers=auth())
    events = events_of(followed)
    asked = await read_until(events, lambda kind, data: data.get("type") == "input_required"
                             and data["inputId"] != size["inputId"])
    count = asked[-1][2]
    assert count["message"] == "Pizza Place asks: How many?"
    status, body = await _answer(session, b.base, command_id,
                                 {"inputId": count["inputId"], "answer": "lots"})
    assert status == 422 and "count: missing" in body["error"]["message"], body  # still open
    status, _ = await _answer(session, a.base, command_id, {
        "inputId": count["inputId"], "action": "accept", "content": {"count": 2}})
    assert status == 202
    done = (await read_until(events, lambda kind, _: kind == "done"))[-1][2]
    assert done["status"] == "completed" and done["response"] == "Done."
    assert done["results"][0]["output"] == \
        'order: accept {"size": "large"}; accept {"count": 2}'


async def test_two_fields_read_by_the_llm_where_the_answer_arrives(cluster, session) -> None:
    a, b = cluster["a"], cluster["b"]
    early = await _ask(session, a.base, "book a table")
    command_id, table = early["commandId"], early["input"]
    status, _ = await _answer(session, b.base, command_id,
                              {"inputId": table["inputId"], "answer": "two people at seven pm"})
    assert status == 202
    followed = await session.get(f"{a.base}/api/voice/commands/{command_id}/events",
                                 headers=auth())
    done = (await read_until(events_of(followed), lambda kind, _: kind == "done"))[-1][2]
    assert done["status"] == "completed"
    assert done["results"][0]["output"] == 'got: accept {"people": 2, "time": "19:00"}'
    readings = [r for r in cluster["llm"].requests if r.response_format]
    assert len(readings) >= 1 and "two people at seven pm" in readings[-1].messages[1]["content"]
