"""Turn chat-completion responses, whole or streamed, into an AssistantTurn."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from openai.types import CompletionUsage
from openai.types.chat import ChatCompletion, ChatCompletionChunk
from openai.types.chat.chat_completion_chunk import ChoiceDeltaToolCallFunction

from voice_mcp.services.llm.models import AssistantTurn, ToolCallRequest, Usage, parse_arguments


def _call_id(given: str | None) -> str:
    # Some self-hosted servers leave ids out; the tool result must still point at its call.
    return given or f"call_{uuid.uuid4().hex[:24]}"


def _tool_call(call_id: str | None, name: str, raw: str) -> ToolCallRequest:
    arguments, error = parse_arguments(raw)
    return ToolCallRequest(
        id=_call_id(call_id), name=name, arguments=arguments, raw_arguments=raw, parse_error=error
    )


def _usage(usage: CompletionUsage | None) -> Usage | None:
    if usage is None:
        return None
    return Usage(
        prompt_tokens=usage.prompt_tokens,
        completion_tokens=usage.completion_tokens,
        total_tokens=usage.total_tokens,
    )


def from_completion(completion: ChatCompletion) -> AssistantTurn:
    """Read the first choice of a non-streamed answer."""
    if not completion.choices:
        return AssistantTurn(usage=_usage(completion.usage))
    choice = completion.choices[0]
    message = choice.message
    calls = [
        _tool_call(call.id, call.function.name, call.function.arguments or "")
        for call in message.tool_calls or []
        if call.type == "function"
    ]
    return AssistantTurn(
        content=message.content or message.refusal or None,
        tool_calls=calls,
        usage=_usage(completion.usage),
        finish_reason=choice.finish_reason,
    )


@dataclass
class _PartialCall:
    id: str | None = None
    name: str = ""
    arguments: list[str] = field(default_factory=list)


@dataclass
class StreamAccumulator:
    """Gather streamed deltas; tool calls arrive in pieces keyed by their `index`."""

    content: list[str] = field(default_factory=list)
    calls: dict[int, _PartialCall] = field(default_factory=dict)
    usage: Usage | None = None
    finish_reason: str | None = None

    @property
    def started(self) -> bool:
        """True once any content or tool-call piece arrived (the first token)."""
        return bool(self.content or self.calls)

    def feed(self, chunk: ChatCompletionChunk) -> str:
        """Add one chunk; return its text when no tool call has appeared yet, else ""."""
        if chunk.usage is not None:
            self.usage = _usage(chunk.usage)
        said = ""
        for choice in chunk.choices:
            if choice.index != 0:  # n=1 is requested; ignore anything else a server adds
                continue
            delta = choice.delta
            piece = delta.content or delta.refusal
            if piece:
                self.content.append(piece)
            for call in delta.tool_calls or ():
                self._feed_call(call.index, call.id, call.function)
            if piece and not self.calls:
                said = piece
            if choice.finish_reason:
                self.finish_reason = choice.finish_reason
        return said

    def _feed_call(
        self, index: int, call_id: str | None, function: ChoiceDeltaToolCallFunction | None
    ) -> None:
        partial = self.calls.setdefault(index, _PartialCall())
        if call_id and not partial.id:
            partial.id = call_id
        if function is None:
            return
        # OpenAI sends the name once; servers that repeat it whole must not double it.
        if function.name and function.name != partial.name:
            partial.name += function.name
        if function.arguments:
            partial.arguments.append(function.arguments)

    def result(self) -> AssistantTurn:
        """The complete turn, calls in index order."""
        calls = [
            _tool_call(p.id, p.name, "".join(p.arguments)) for _, p in sorted(self.calls.items())
        ]
        return AssistantTurn(
            content="".join(self.content) or None,
            tool_calls=calls,
            usage=self.usage,
            finish_reason=self.finish_reason,
        )
