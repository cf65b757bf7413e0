"""A server's questions reach the command's user and the answers reach the server: forms
(elicitation/create), URL mode (-32042, then the call again), 2026-07-28 input-required
rounds; secrets refused, silence cancelled, the call's own budget paused while asking."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest
import redis.asyncio as aioredis

from tests.fakes.openai_server import OpenAIServer, text
from tests.fixtures.openai_server import settings_for
from tests.mcp_servers.question_server import PAY_URL, VISITED
from tests.mcp_servers.runner import RunningServer
from tests.services.mcp.conftest import MakeManager
from voice_mcp.services.asking.asker import CallAsker
from voice_mcp.services.asking.broker import InputBroker
from voice_mcp.services.asking.question import AnswerBody, Question
from voice_mcp.services.asking.sampling import Sampler
from voice_mcp.services.asking.scope import ask_scope
from voice_mcp.services.commands.redis_keys import CommandKeys
from voice_mcp.services.llm.client import LLMClient
from voice_mcp.services.mcp.manager import McpManager
from voice_mcp.services.mcp.models import ToolCallResult


@dataclass
class User:
    """The command's user: sees questions, hears notes, answers through the broker."""

    broker: InputBroker
    questions: asyncio.Queue[Question] = field(default_factory=asyncio.Queue)
    told: list[str] = field(default_factory=list)

    async def heard(self) -> Question:
        """The next question (a call that never asks fails the test instead of hanging it)."""
        async with asyncio.timeout(10):
            return await self.questions.get()

    def say(self, question: Question, words: str) -> None:
        reply = question.reply(AnswerBody(input_id=question.input_id, answer=words))
        self.broker.on_message(json.dumps({"commandId": "cmd", "inputId": question.input_id,
                                           "action": reply.action, "content": reply.content}))


@pytest.fixture
async def user(redis_client: aioredis.Redis) -> AsyncIterator[User]:
    yield User(InputBroker(redis_client, timeout_s=10))


async def _call(manager: McpManager, user: User, tool: str) -> asyncio.Task[ToolCallResult]:
    """Start the tool call as command `cmd`, its questions going to `user`."""
    with ask_scope("cmd") as scope:
        asker = CallAsker(user.broker, scope, service="questions", title="Question Desk",
                          tool=tool, show=user.questions.put_nowait, tell=user.told.append)
        return asyncio.create_task(manager.call_tool("alice", "questions", tool, {},
                                                     asker=asker))


async def test_a_form_question_is_answered_in_words_with_defaults_filled(
        make_manager: MakeManager, question_server: RunningServer, user: User,
        redis_client: aioredis.Redis) -> None:
    manager = make_manager(question_server.service("questions"), protocol_mode="legacy")
    call = await _call(manager, user, "plan_meeting")
    question = await user.heard()
    assert question.mode == "form" and question.tool == "plan_meeting"
    assert question.message == "Question Desk asks: Which calendar, and for how many?"
    assert [f["name"] for f in question.fields] == ["calendar", "people"]
    stored = await redis_client.hget(CommandKeys.of("cmd").meta, f"input:{question.input_id}")
    assert stored is not None and json.loads(stored)["input_id"] == question.input_id

    user.say(question, "the work one")
    result = await call

    assert result.success, result.error
    assert result.output == 'got: accept {"calendar": "cal-work", "people": 2}'
    assert await redis_client.hget(CommandKeys.of("cmd").meta,
                                   f"input:{question.input_id}") is None


async def test_without_an_asker_the_question_is_declined(
        make_manager: MakeManager, question_server: RunningServer) -> None:
    manager = make_manager(question_server.service("questions"), protocol_mode="legacy")
    result = await manager.call_tool("alice", "questions", "plan_meeting", {})
    assert result.output == "got: decline null"


async def test_a_password_field_is_refused_and_the_user_told_why(
        make_manager: MakeManager, question_server: RunningServer, user: User) -> None:
    manager = make_manager(question_server.service("questions"), protocol_mode="legacy")
    result = await (await _call(manager, user, "sign_in"))
    assert result.output == "got: decline null"
    assert user.questions.empty()
    [note] = user.told
    assert note.startswith("Question Desk asked for password;") and "never asked" in note


async def test_no_answer_in_time_tells_the_server_cancel(
        make_manager: MakeManager, question_server: RunningServer,
        redis_client: aioredis.Redis) -> None:
    user = User(InputBroker(redis_client, timeout_s=0.2))
    manager = make_manager(question_server.service("questions"), protocol_mode="legacy")
    result = await (await _call(manager, user, "plan_meeting"))
    assert result.output == "got: cancel null"
    assert not user.questions.empty()  # it was asked


async def test_the_calls_own_timeout_waits_while_the_user_is_asked(
        make_manager: MakeManager, question_server: RunningServer, user: User) -> None:
    manager = make_manager(question_server.service("questions"), protocol_mode="legacy",
                           call_timeout_s=0.3)
    await manager.discover("alice", ["questions"])  # connected: the budget is the call's
    call = await _call(manager, user, "plan_meeting")
    question = await user.heard()
    await asyncio.sleep(0.6)  # the user thinks for longer than the call's budget
    user.say(question, "home for 3")
    result = await call
    assert result.success, result.error
    assert result.output == 'got: accept {"calendar": "cal-home", "people": 3}'


async def test_a_url_required_refusal_asks_for_the_page_then_calls_again(
        make_manager: MakeManager, question_server: RunningServer, user: User) -> None:
    manager = make_manager(question_server.service("questions"))
    call = await _call(manager, user, "pay")
    question = await user.heard()
    assert question.mode == "url" and question.url == PAY_URL
    assert question.wire()["url"] == PAY_URL and "fields" not in question.wire()
    user.say(question, "done")
    result = await call
    assert result.success and result.output == "paid"
    assert question_server.stats.tool_calls["pay"] == 2


async def test_input_required_rounds_ask_each_question_in_turn(
        make_manager: MakeManager, question_server: RunningServer, user: User) -> None:
    manager = make_manager(question_server.service("questions"))  # 2026-07-28
    call = await _call(manager, user, "order_pizza")
    size = await user.heard()
    assert size.fields[0]["enum"] == ["small", "large"]
    user.say(size, "a large one")
    count = await user.heard()
    assert count.message == "Question Desk asks: How many?"
    user.say(count, "three")
    result = await call
    assert result.output == 'order: accept {"size": "large"}; accept {"count": 3}'
    assert question_server.stats.tool_calls["order_pizza"] == 3


@pytest.mark.parametrize(("tool", "mode"), [("haiku", "legacy"), ("limerick", "auto")])
async def test_sampling_is_answered_by_the_llm_only_where_the_catalog_allows(
        make_manager: MakeManager, question_server: RunningServer, user: User,
        openai_server: OpenAIServer, redis_client: aioredis.Redis, tool: str,
        mode: str) -> None:
    allowed = make_manager(question_server.service("questions", sampling=True),
                           protocol_mode=mode)
    llm = LLMClient(settings_for(openai_server, llm_max_retries=0))
    openai_server.script(text("Leaves fall."))
    try:
        with ask_scope("cmd") as scope:
            asker = CallAsker(user.broker, scope, service="questions", title="Poet",
                              tool=tool, show=user.questions.put_nowait, tell=user.told.append,
                              user_id="alice", sampler=Sampler(llm, redis_client))
            result = await allowed.call_tool("alice", "questions", tool, {}, asker=asker)
    finally:
        await llm.close()
    assert result.output == "wrote: Leaves fall."
    assert user.told == ["Poet asks the assistant to write something"]
    assert openai_server.requests[0].last_user_text == "A poem, please."

    plain = make_manager(question_server.service("questions_plain"), protocol_mode=mode)
    with ask_scope("cmd") as scope:
        asker = CallAsker(user.broker, scope, service="questions_plain", title="Poet",
                          tool=tool, show=user.questions.put_nowait, tell=user.told.append)
        refused = await plain.call_tool("alice", "questions_plain", tool, {}, asker=asker)
    assert refused.output is not None and "Leaves" not in refused.output
    assert len(openai_server.requests) == 1


async def test_a_url_question_goes_on_when_the_server_says_it_is_complete(
        make_manager: MakeManager, question_server: RunningServer, user: User) -> None:
    manager = make_manager(question_server.service("questions"), protocol_mode="legacy")
    VISITED["page-7"] = threading.Event()
    with ask_scope("cmd") as scope:
        asker = CallAsker(user.broker, scope, service="questions", title="Forms", tool="visit",
                          show=user.questions.put_nowait, tell=user.told.append)
        call = asyncio.create_task(manager.call_tool("alice", "questions", "visit",
                                                     {"page": "page-7"}, asker=asker))
    question = await user.heard()
    assert question.mode == "url" and question.url == "https://forms.example/page-7"
    VISITED["page-7"].set()  # the user signs the form; nobody answers in voice-mcp
    result = await call
    assert result.output == "got: accept null"
