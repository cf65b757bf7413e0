"""Check tool arguments against the tool's input schema before anything is sent."""

from __future__ import annotations

import json
import logging
from typing import Any

from jsonschema import Draft202012Validator, SchemaError
from jsonschema.exceptions import best_match
from jsonschema.protocols import Validator
from jsonschema.validators import validator_for
from referencing import Registry
from referencing.exceptions import Unresolvable

from voice_mcp.services.mcp.failures import short
from voice_mcp.services.mcp.models import ToolInfo

log = logging.getLogger(__name__)


def without_absent(schema: dict[str, Any], arguments: dict[str, Any]) -> dict[str, Any]:
    """Drop `null` values of optional properties that do not take null: an LLM's way of saying
    "not given" (MCP clients omit them, e.g. from Mcp-Param headers)."""
    required = set(schema.get("required") or [])
    properties = schema.get("properties") or {}

    def takes_null(name: str) -> bool:
        kind = (properties.get(name) or {}).get("type") if isinstance(properties, dict) else None
        return kind is None or kind == "null" or (isinstance(kind, list) and "null" in kind)

    return {k: v for k, v in arguments.items()
            if v is not None or k in required or takes_null(k)}


class ArgumentValidator:
    """Compiled validators, one per distinct schema (compiling costs far more than checking)."""

    def __init__(self, max_cached: int = 1024) -> None:
        self._max_cached = max_cached
        self._compiled: dict[str, Validator | None] = {}

    def problem(self, tool: ToolInfo, arguments: Any) -> str | None:
        """None when the arguments fit the schema, else a short `invalid arguments: ...`."""
        if not isinstance(arguments, dict):
            return "invalid arguments: expected a JSON object"
        validator = self._validator(tool)
        if validator is None:
            return None
        try:
            error = best_match(validator.iter_errors(without_absent(tool.input_schema, arguments)))
        except Unresolvable:
            # A $ref we will not fetch: the server validates what we cannot.
            return None
        if error is None:
            return None
        where = "/".join(str(part) for part in error.absolute_path)
        detail = f"{error.message} (at '{where}')" if where else error.message
        return short(f"invalid arguments: {detail}")

    def _validator(self, tool: ToolInfo) -> Validator | None:
        key = json.dumps(tool.input_schema, sort_keys=True, default=str)
        if key in self._compiled:
            return self._compiled[key]
        if len(self._compiled) >= self._max_cached:
            self._compiled.clear()
        cls = validator_for(tool.input_schema, default=Draft202012Validator)
        compiled: Validator | None
        try:
            cls.check_schema(tool.input_schema)
            # An empty registry: references resolve inside the schema only, nothing is fetched.
            compiled = cls(tool.input_schema, registry=Registry())
        except SchemaError:
            log.warning("tool has an invalid input schema; the server will check its arguments",
                        extra={"service": tool.service, "tool": tool.name})
            compiled = None
        self._compiled[key] = compiled
        return compiled
