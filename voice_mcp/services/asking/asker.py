"""One tool call's way to ask its command's user (the MCP layer's `Asker`)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import KW_ONLY, dataclass, field
from typing import TYPE_CHECKING

import mcp.types as types

from voice_mcp.services.asking.fields import secret_fields
from voice_mcp.services.asking.question import Question
from voice_mcp.services.asking.sampling import Sampled, Sampler, refused
from voice_mcp.services.asking.scope import AskScope

if TYPE_CHECKING:
    from voice_mcp.services.asking.broker import InputBroker

log = logging.getLogger(__name__)


@dataclass(eq=False)
class CallAsker:
    """Turns a server's question into the user's, naming the service; refuses secrets."""

    broker: InputBroker
    scope: AskScope
    _: KW_ONLY
    service: str
    title: str
    tool: str
    show: Callable[[Question], None]  # emits the `input_required` event
    tell: Callable[[str], None]  # says something to the user (a `tool_progress` event)
    user_id: str = ""
    sampler: Sampler | None = None  # None: sampling requests are declined
    clocks: list[asyncio.Timeout] = field(default_factory=list)  # the call's own, paused

    async def elicit(self, params: types.ElicitRequestParams) -> types.ElicitResult:
        """Ask the user; the server gets the checked answer, `decline` or `cancel`."""
        question = Question.of(params, service=self.service, title=self.title, tool=self.tool,
                               timeout_s=self.broker.timeout_s)
        refused = secret_fields(question.fields)
        if refused:
            log.info("secret field refused", extra={"service": self.service})
            self.tell(f"{self.title} asked for {', '.join(refused)}; secrets such as passwords,"
                      " tokens or card numbers are never asked by voice, so it was refused.")
            return types.ElicitResult(action="decline")
        with self.scope.paused(self.clocks):
            reply = await self.broker.ask(self.scope.command_id, question, self.show)
        return reply.result()

    async def sample(self, params: types.CreateMessageRequestParams) -> Sampled:
        """Let the LLM answer the server, when its catalog entry allows it; named to the user."""
        if self.sampler is None:
            return refused("Sampling is not supported.")
        self.tell(f"{self.title} asks the assistant to write something")
        return await self.sampler.sample(self.user_id, params)

    def completed(self, elicitation_id: str) -> None:
        """A URL question the server saw done: answered `accept` for the user."""
        self.broker.complete(self.scope.command_id, elicitation_id)
