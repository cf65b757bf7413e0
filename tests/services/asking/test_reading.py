"""Several fields from one sentence: words the rules cannot map are read by the LLM (the
scripted OpenAI-compatible server behind the real SDK), and what it returns is checked
against the server's schema before anything is sent."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import mcp.types as types
import pytest
import redis.asyncio as aioredis

from tests.fakes.openai_server import OpenAIServer, text
from tests.fixtures.openai_server import settings_for
from tests.mcp_servers.question_server import SIZES, TABLE
from voice_mcp.errors import AppError, RateLimited
from voice_mcp.services.asking.question import AnswerBody, Question, Reply, Unanswered
from voice_mcp.services.asking.reading import READER_PROMPT, WordReader, reply_to
from voice_mcp.services.llm.client import LLMClient

TWO_AT_SEVEN = "two people at seven pm"


def _question(schema: dict[str, Any], message: str = "For how many, and when?") -> Question:
    params = types.ElicitRequestFormParams(message=message, requested_schema=schema)
    return Question.of(params, service="tables", title="Bistro", tool="book",
                       timeout_s=60)


def _words(words: str) -> AnswerBody:
    return AnswerBody(input_id="x", answer=words)


@pytest.fixture
async def reader(openai_server: OpenAIServer, redis_client: aioredis.Redis
                 ) -> AsyncIterator[WordReader]:
    llm = LLMClient(settings_for(openai_server, llm_max_retries=0))
    yield WordReader(llm, redis_client, per_minute=3)
    await llm.close()


async def _reply(question: Question, words: str, reader: WordReader | None,
                 user_id: str = "alice") -> Reply:
    return await reply_to(question, _words(words), reader, user_id)


async def test_two_fields_from_one_sentence(reader, openai_server) -> None:
    question = _question(TABLE)
    with pytest.raises(Unanswered, match="time: missing"):
        question.reply(_words(TWO_AT_SEVEN))  # the rules alone get the people, not the time
    openai_server.script(text('{"people": 2, "time": "19:00"}'))
    reply = await _reply(question, TWO_AT_SEVEN, reader)
    assert reply == Reply("accept", {"people": 2, "time": "19:00"})

    [request] = openai_server.requests
    assert request.response_format == {"type": "json_schema", "json_schema": {
        "name": "form_answer", "strict": False, "schema": {
            "type": "object", "properties": TABLE["properties"],
            "required": ["people", "time"], "additionalProperties": False}}}
    system, user = request.messages
    assert system == {"role": "system", "content": READER_PROMPT}
    data = json.loads(user["content"])  # the question and the words are quoted data
    assert data["words"] == TWO_AT_SEVEN
    assert data["question"] == "Bistro asks: For how many, and when?"
    assert [f["name"] for f in data["fields"]] == ["people", "time"]
    assert request.tools == []


async def test_the_llm_is_not_asked_when_the_rules_map_the_words(reader, openai_server) -> None:
    assert await _reply(_question(SIZES), "the large one", reader) == Reply(
        "accept", {"size": "large"})
    assert await _reply(_question(SIZES), "never mind", reader) == Reply("cancel")
    assert openai_server.chat_count == 0


@pytest.mark.parametrize(("said", "named"), [
    ('{"people": 2, "time": "seven pm"}', "time: 'seven pm' does not match"),
    ('{"people": 40, "time": "19:00"}', "people: 40 is greater than the maximum of 12"),
    ('{"people": 2}', "time: missing"),
    ('{"people": 2, "time": "19:00", "note": "window seat"}', "note: not a field"),
    ("Two people at seven.", "people: missing; time: missing"),
    ('["people", 2]', "people: missing; time: missing"),
])
async def test_what_the_llm_returns_is_checked_and_a_shortfall_is_a_422(
        reader, openai_server, said, named) -> None:
    openai_server.script(text(said))
    with pytest.raises(Unanswered, match="Missing or invalid: ") as caught:
        await _reply(_question(TABLE), TWO_AT_SEVEN, reader)
    assert named in caught.value.message and caught.value.status == 422


async def test_a_secret_field_is_neither_shown_to_the_llm_nor_filled(
        reader, openai_server) -> None:
    schema = {"type": "object", "properties": {**TABLE["properties"],
                                               "pin": {"type": "string", "title": "Door PIN"}}}
    openai_server.script(text('{"people": 2, "time": "19:00", "pin": "1234"}'))
    reply = await _reply(_question(schema), "two at seven, pin 1234", reader)
    assert reply == Reply("accept", {"people": 2, "time": "19:00"})
    request = openai_server.requests[0]
    assert "pin" not in request.response_format["json_schema"]["schema"]["properties"]
    assert "Door PIN" not in request.messages[1]["content"].replace("pin 1234", "")


async def test_a_failing_llm_is_a_clear_error(reader, openai_server) -> None:
    openai_server.fail(500, times=None, message="upstream says sk-secret-123")
    with pytest.raises(AppError) as caught:
        await _reply(_question(TABLE), TWO_AT_SEVEN, reader)
    err = caught.value
    assert err.status == 503 and err.code == "llm_unavailable"
    assert err.message.startswith("Your answer could not be read: The LLM server failed")
    assert "still open" in err.message and "sk-secret" not in err.message


async def test_without_an_llm_the_words_stay_a_422(openai_server, redis_client) -> None:
    llm = LLMClient(settings_for(openai_server, openai_api_key=None, llm_base_url=None))
    assert not llm.configured
    with pytest.raises(Unanswered, match="time: missing"):
        await _reply(_question(TABLE), TWO_AT_SEVEN, WordReader(llm, redis_client))
    assert openai_server.chat_count == 0


async def test_readings_are_bounded_per_user(reader, openai_server) -> None:
    openai_server.responder = text('{"people": 2, "time": "19:00"}')
    for _ in range(3):
        await _reply(_question(TABLE), TWO_AT_SEVEN, reader, "carol")
    with pytest.raises(RateLimited, match="still open") as caught:
        await _reply(_question(TABLE), TWO_AT_SEVEN, reader, "carol")
    assert caught.value.status == 429 and caught.value.retry_after
    await _reply(_question(TABLE), TWO_AT_SEVEN, reader, "dave")  # counted apart
    assert openai_server.chat_count == 4
