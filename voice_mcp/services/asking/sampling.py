"""A service's sampling request (the server asks the client's LLM to write something),
answered only for catalog entries with `sampling = true`, rate-limited per user through Redis
(docs/api.md, "Services that ask"). Text in, text out: no tools, no images."""

from __future__ import annotations

import logging

import mcp.types as types

from voice_mcp.errors import AppError
from voice_mcp.services.llm.client import LLMClient
from voice_mcp.services.ratelimit import WindowCounter
from voice_mcp.services.store import Redis

log = logging.getLogger(__name__)
PER_MINUTE = 10
Sampled = types.CreateMessageResult | types.ErrorData


def refused(message: str) -> types.ErrorData:
    return types.ErrorData(code=types.INVALID_REQUEST, message=message)


def _messages(params: types.CreateMessageRequestParams) -> list[dict[str, str]] | None:
    """The request as chat messages; None when it holds anything but text."""
    messages = [{"role": "system", "content": params.system_prompt}] if params.system_prompt \
        else []
    for message in params.messages:
        parts = message.content if isinstance(message.content, list) else [message.content]
        if not all(isinstance(p, types.TextContent) for p in parts):
            return None
        text = "\n".join(p.text for p in parts if isinstance(p, types.TextContent))
        messages.append({"role": message.role, "content": text})
    return messages


class Sampler:
    """Answer a sampling request with the configured LLM, at most PER_MINUTE per user."""

    def __init__(self, llm: LLMClient, redis: Redis, per_minute: int = PER_MINUTE) -> None:
        self.llm = llm
        self._counter = WindowCounter(redis, "vm:sampling", per_minute)

    async def sample(self, user_id: str, params: types.CreateMessageRequestParams) -> Sampled:
        if not self.llm.configured:
            return refused("Sampling is not supported: no LLM is configured.")
        messages = _messages(params)
        if messages is None or params.tools:
            return refused("Sampling supports text messages only.")
        if await self._counter.over(user_id) is not None:
            return refused("Too many sampling requests; try again in a minute.")
        try:
            turn = await self.llm.complete(messages, [])
        except AppError as err:
            log.info("sampling failed", extra={"error_type": err.code})
            return refused("The assistant could not answer.")
        return types.CreateMessageResult(role="assistant", model=self.llm.model,
                                         content=types.TextContent(type="text",
                                                                   text=turn.content or ""),
                                         stop_reason="endTurn")
