"""What one LLM round trip produces, and the chat messages that carry it back."""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class ToolCallRequest(BaseModel):
    """One function call the LLM asked for; a bad `raw_arguments` is reported, not raised."""

    model_config = ConfigDict(frozen=True)

    id: str
    name: str
    arguments: dict[str, Any] = Field(default_factory=dict)
    raw_arguments: str = ""
    parse_error: str | None = None


class Usage(BaseModel):
    """Token counts as the provider reported them."""

    model_config = ConfigDict(frozen=True)

    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0


class AssistantTurn(BaseModel):
    """The LLM's answer to one request: text, tool calls, or both."""

    model_config = ConfigDict(frozen=True)

    content: str | None = None
    tool_calls: list[ToolCallRequest] = Field(default_factory=list)
    usage: Usage | None = None
    finish_reason: str | None = None

    def to_message(self) -> dict[str, Any]:
        """The assistant message to append to the history before sending tool results back."""
        message: dict[str, Any] = {"role": "assistant", "content": self.content}
        if self.tool_calls:
            message["tool_calls"] = [
                {
                    "id": call.id,
                    "type": "function",
                    "function": {"name": call.name, "arguments": _echo_arguments(call)},
                }
                for call in self.tool_calls
            ]
        return message


def _echo_arguments(call: ToolCallRequest) -> str:
    # Servers that render history through a chat template (vLLM) reject unparsable arguments;
    # the tool error sent back tells the model what was wrong instead.
    if call.parse_error is not None or not call.raw_arguments.strip():
        return "{}"
    return call.raw_arguments


def tool_result_message(call_id: str, content: str | dict[str, Any] | list[Any]) -> dict[str, Any]:
    """The `tool` message answering one call; structured content is sent as JSON text."""
    text = content if isinstance(content, str) else json.dumps(content, ensure_ascii=False)
    return {"role": "tool", "tool_call_id": call_id, "content": text}


def parse_arguments(raw: str) -> tuple[dict[str, Any], str | None]:
    """Decode a tool call's JSON arguments into `(arguments, error)`; empty means no arguments."""
    if not raw.strip():
        return {}, None
    try:
        value = json.loads(raw)
    except ValueError as err:
        return {}, f"arguments are not valid JSON ({err})"
    if not isinstance(value, dict):
        return {}, f"arguments must be a JSON object, not {type(value).__name__}"
    return value, None
