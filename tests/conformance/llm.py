"""The scripted LLM of the conformance client: call every tool of the service once, then answer."""

from __future__ import annotations

import itertools
import json
from typing import Any

from tests.fakes.openai_server import Responder, ToolCall, Turn, tool_results

_SAMPLES: dict[str, Any] = {"string": "test", "boolean": True, "object": {}, "array": [],
                            "null": None}


def arguments_for(schema: dict[str, Any]) -> dict[str, Any]:
    """Values for the schema's required properties (numbers count up: a=2, b=3, ...)."""
    numbers = itertools.count(2)
    properties = schema.get("properties") or {}
    answer: dict[str, Any] = {}
    for name in schema.get("required") or []:
        kind = (properties.get(name) or {}).get("type", "string")
        kind = kind[0] if isinstance(kind, list) else kind
        answer[name] = next(numbers) if kind in ("number", "integer") else _SAMPLES.get(kind)
    return answer


def call_every_tool(service_id: str, planned: list[dict[str, Any]] | None = None) -> Responder:
    """First turn: one call per tool of `service_id` (or the scenario's own `planned` calls,
    `{"name", "arguments"}`); after the results: a short answer."""
    prefix = f"{service_id}__"

    def respond(body: dict[str, Any]) -> Turn:
        if tool_results(body):
            return Turn(content="Done.")
        if planned:
            return Turn(tool_calls=tuple(ToolCall(prefix + c["name"], c.get("arguments") or {})
                                         for c in planned))
        calls = tuple(
            ToolCall(tool["function"]["name"],
                     json.loads(json.dumps(arguments_for(tool["function"].get("parameters")
                                                         or {}))))
            for tool in body.get("tools") or []
            if tool.get("type") == "function" and tool["function"]["name"].startswith(prefix))
        return Turn(tool_calls=calls) if calls else Turn(content="Nothing to call.")

    return respond
