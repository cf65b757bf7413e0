"""The chat model: one client per app, built and its failures worded by services/providers."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final

import openai

from voice_mcp.errors import LLMNotConfigured
from voice_mcp.services import tracing
from voice_mcp.services.llm.models import AssistantTurn
from voice_mcp.services.llm.parse import StreamAccumulator, from_completion
from voice_mcp.services.providers.errors import coded_error
from voice_mcp.services.providers.failures import Failure, FailureKind
from voice_mcp.services.providers.openai import Purpose, endpoint_for, make_client
from voice_mcp.settings import Settings

log = logging.getLogger(__name__)

NOT_CONFIGURED_MESSAGE: Final = (
    "No LLM is configured: set OPENAI_API_KEY, or VOICE_MCP_LLM_BASE_URL for a self-hosted "
    "OpenAI-compatible server."
)


@dataclass
class RoundListener:
    """What a caller learns while one round streams in.

    `on_text` receives the answer's text as it arrives, but only while no tool-call piece has
    appeared in the round: a round that is tool calls from its first token sends none.
    `first_token_s` / `total_s` are filled in (perf_counter durations from the request).
    """

    on_text: Callable[[str], None] | None = None
    first_token_s: float | None = None
    total_s: float = 0.0
    _started: float = field(default_factory=time.perf_counter)

    def begin(self) -> None:
        """Start the clock: the request is about to leave."""
        self._started = time.perf_counter()

    def elapsed(self) -> float:
        """Seconds since `begin`."""
        return time.perf_counter() - self._started

    def token(self) -> None:
        """Note the first generated token (content or a tool-call piece)."""
        if self.first_token_s is None:
            self.first_token_s = self.elapsed()


# What reading an answer that is not a chat completion raises (HTML, cut JSON, wrong shapes).
UNREADABLE = (ValueError, TypeError, AttributeError, KeyError, IndexError)


class LLMClient:
    """Ask the chat model for its next turn; one instance, and one connection pool, per app."""

    def __init__(self, settings: Settings) -> None:
        self.endpoint = endpoint_for(settings, Purpose.CHAT)
        self.model = self.endpoint.model
        self.stream = settings.llm_stream
        self.request_count = 0  # complete() calls, not counting the SDK's own retries
        self._client: openai.AsyncOpenAI | None = None
        if settings.llm_configured:
            self._client = make_client(settings, Purpose.CHAT)

    @property
    def configured(self) -> bool:
        return self._client is not None

    async def complete(
        self,
        messages: list[dict[str, Any]],
        tools: list[dict[str, Any]],
        listener: RoundListener | None = None,
        *,
        response_format: dict[str, Any] | None = None,
    ) -> AssistantTurn:
        """One round, as one span of the command's trace (docs/operations.md, "Traces").

        `response_format` asks for structured output (`{"type": "json_schema", ...}`)."""
        listener = listener or RoundListener()
        streamed = self.stream or listener.on_text is not None
        with tracing.llm_request(self.model, self.endpoint.base_url, stream=streamed) as span:
            span.content("gen_ai.input.messages", messages)
            body = _wire_body(messages, tools, response_format)
            turn = await self._complete(body, listener)
            span.answered(turn, listener.first_token_s)
        return turn

    async def _complete(self, body: dict[str, Any], listener: RoundListener) -> AssistantTurn:
        """Send the conversation and the offered tools; return the model's next turn.

        With a listener that takes text the round is always streamed (its text is wanted as
        it comes); otherwise `VOICE_MCP_LLM_STREAM` decides.
        """
        if self._client is None:
            raise LLMNotConfigured(NOT_CONFIGURED_MESSAGE)
        self.request_count += 1
        listener.begin()
        try:
            if self.stream or listener.on_text is not None:
                turn = await self._streamed(self._client, body, listener)
            else:
                turn = await self._whole(self._client, body)
                listener.token()
        except openai.OpenAIError as err:
            raise coded_error(self.endpoint, err) from err
        except UNREADABLE as err:  # a 200 whose body is not a chat completion: fail closed
            raise coded_error(self.endpoint, Failure(FailureKind.BAD_RESPONSE)) from err
        finally:
            listener.total_s = listener.elapsed()
        log.debug(
            "llm turn: %d tool calls, %s tokens",
            len(turn.tool_calls),
            turn.usage.total_tokens if turn.usage else "unknown",
        )
        return turn

    async def _whole(self, client: openai.AsyncOpenAI, body: dict[str, Any]) -> AssistantTurn:
        completion = await client.chat.completions.create(
            model=self.model, messages=[], extra_body=body
        )
        if not getattr(completion, "choices", None):
            raise ValueError("a chat completion without choices")
        return from_completion(completion)

    async def _streamed(
        self, client: openai.AsyncOpenAI, body: dict[str, Any], listener: RoundListener
    ) -> AssistantTurn:
        stream = await client.chat.completions.create(
            model=self.model,
            messages=[],
            stream=True,
            stream_options={"include_usage": True},
            extra_body=body,
        )
        accumulator = StreamAccumulator()
        choices = 0
        # Leaving the block closes the response, so a cancelled caller drops the connection.
        async with stream:
            async for chunk in stream:
                choices += len(chunk.choices or ())
                text = accumulator.feed(chunk)
                if accumulator.started:
                    listener.token()
                if text and listener.on_text is not None:
                    listener.on_text(text)
        if not choices:
            raise ValueError("a chat completion stream without choices")
        return accumulator.result()

    async def close(self) -> None:
        """Close the connection pool."""
        if self._client is not None:
            await self._client.close()


def _wire_body(messages: list[dict[str, Any]], tools: list[dict[str, Any]],
               response_format: dict[str, Any] | None = None) -> dict[str, Any]:
    """The conversation, the tools and any response format, in wire shape, sent as they are.

    They go through `extra_body`, which the SDK merges into the JSON body untouched: its typed
    transforms would otherwise walk every message and every tool schema on each request, which
    measured 5 ms of CPU per call with ten tools, more than half of the SDK's whole cost.
    Some servers reject an empty `tools` array, so it is left out when nothing is offered;
    `tool_choice` stays unset ("auto" is the default, and vLLM refuses it spelled out unless
    started with --enable-auto-tool-choice).
    """
    body: dict[str, Any] = {"messages": messages}
    if tools:
        body["tools"] = tools
    if response_format is not None:
        body["response_format"] = response_format
    return body
