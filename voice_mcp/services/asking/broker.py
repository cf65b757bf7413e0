"""Open questions: asked on the command's instance, answered from any instance.

The question is kept with the command in Redis (a field of its record), so any instance can
check an answer against it; a checked answer reaches the owner over the owner's answer
channel (pub/sub, like cancels), or directly when the owner is this instance.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from redis.asyncio.cluster import RedisCluster
from redis.exceptions import RedisError

from voice_mcp.errors import Conflict, NotFound
from voice_mcp.services.asking.question import AnswerBody, Question, Reply, Unanswered
from voice_mcp.services.asking.reading import WordReader, reply_to
from voice_mcp.services.asking.sampling import Sampler
from voice_mcp.services.asking.words import vocabulary
from voice_mcp.services.commands.models import RUNNING
from voice_mcp.services.commands.redis_keys import CommandKeys, input_channel
from voice_mcp.services.store import Redis

if TYPE_CHECKING:
    from voice_mcp.services.commands.registry import CommandRegistry

log = logging.getLogger(__name__)
GONE = "No such question is open for this command."


@dataclass(frozen=True)
class _Open:
    command_id: str
    question: Question
    reply: asyncio.Future[Reply]


class InputBroker:
    """Ask a command's user and wait (bounded by VOICE_MCP_INPUT_TIMEOUT_S) for the answer.

    Answers relayed by other instances arrive through `on_message`, which the web layer
    subscribes to this instance's answer channel (`redis_keys.input_channel`)."""

    def __init__(self, redis: Redis, timeout_s: float, sampler: Sampler | None = None,
                 reader: WordReader | None = None) -> None:
        self.redis = redis
        self.timeout_s = timeout_s
        self.sampler = sampler  # for services whose catalog entry says `sampling = true`
        self.reader = reader  # words the rules cannot map; None: they are a 422
        self._open: dict[str, _Open] = {}

    async def ask(self, command_id: str, question: Question,
                  emit: Callable[[Question], None]) -> Reply:
        """Show the question and wait for its answer; `cancel` when none comes in time."""
        future: asyncio.Future[Reply] = asyncio.get_running_loop().create_future()
        self._open[question.input_id] = _Open(command_id, question, future)
        meta, field = CommandKeys.of(command_id).meta, f"input:{question.input_id}"
        try:
            with contextlib.suppress(RedisError, OSError):  # answerable here all the same
                await self.redis.hset(meta, field, json.dumps(question.stored()))
            emit(question)
            async with asyncio.timeout(self.timeout_s):
                return await future
        except TimeoutError:
            log.info("question unanswered", extra={"service": question.service})
            return Reply("cancel")
        finally:
            self._open.pop(question.input_id, None)
            with contextlib.suppress(RedisError, OSError):
                await self.redis.hdel(meta, field)

    async def answer(self, registry: CommandRegistry, user_id: str, command_id: str,
                     body: AnswerBody) -> None:
        """Check and deliver an answer; 404/410 for the command, 409 when it no longer runs,
        404 for a question not open, 422 for an answer that falls short (words may be read
        by the LLM first: `reading.reply_to`)."""
        view = await registry.view(user_id, command_id)  # 400/404/410 as elsewhere
        if view.status != RUNNING:
            raise Conflict("This command is no longer waiting for an answer.",
                           code="input_closed")
        opened = self._open.get(body.input_id)
        if command_id in registry.local:
            if opened is None or opened.command_id != command_id:
                raise NotFound(GONE, code="input_not_found")
            self._settle(body.input_id, await reply_to(opened.question, body, self.reader,
                                                       user_id))
            return
        stored, instance = (v.decode() if isinstance(v, bytes) else v for v in
                            await self.redis.hmget(CommandKeys.of(command_id).meta,
                                                   f"input:{body.input_id}", "instance"))
        if stored is None or instance is None:
            raise NotFound(GONE, code="input_not_found")
        reply = await reply_to(Question.load(json.loads(stored)), body, self.reader, user_id)
        message = {"commandId": command_id, "inputId": body.input_id,
                   "action": reply.action, "content": reply.content}
        await self._relay(input_channel(instance), json.dumps(message))

    def vocabulary(self, command_id: str, input_id: str) -> list[str] | None:
        """What an answer to a question of this instance's command is said with
        (words.vocabulary); None for free text or a question not open here."""
        opened = self._open.get(input_id)
        if opened is None or opened.command_id != command_id or opened.question.mode != "form":
            return None
        return vocabulary(opened.question.fields)

    async def answer_heard(self, registry: CommandRegistry, user_id: str, command_id: str,
                           input_id: str, words: str) -> None:
        """A spoken answer (the listen socket): as typed words; nothing heard is a 422."""
        if not words.strip():
            raise Unanswered("Nothing was heard; say it again.", code="input_invalid")
        await self.answer(registry, user_id, command_id,
                          AnswerBody(input_id=input_id, answer=words))

    async def _relay(self, channel: str, data: str) -> None:
        """Publish to the owner's channel (a shard channel on a Redis Cluster, as cancels)."""
        redis: Any = self.redis
        if isinstance(redis, RedisCluster):
            await redis.spublish(channel, data)
        else:
            await redis.publish(channel, data)

    def on_message(self, data: str) -> None:
        """An answer relayed by another instance (checked there)."""
        try:
            message: dict[str, Any] = json.loads(data)
            opened = self._open.get(str(message["inputId"]))
            if opened is not None and opened.command_id == message["commandId"]:
                self._settle(opened.question.input_id,
                             Reply(message["action"], message.get("content")))
        except (ValueError, KeyError, TypeError) as err:
            log.warning("bad relayed answer: %s", type(err).__name__)

    def complete(self, command_id: str, elicitation_id: str) -> None:
        """The server finished a URL question of this command by itself: it goes on."""
        for input_id, opened in list(self._open.items()):
            question = opened.question
            if opened.command_id == command_id and question.elicitation_id == elicitation_id:
                self._settle(input_id, Reply("accept"))

    def _settle(self, input_id: str, reply: Reply) -> None:
        opened = self._open.get(input_id)
        if opened is not None and not opened.reply.done():
            opened.reply.set_result(reply)
