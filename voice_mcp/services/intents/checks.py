"""Check templates against the tools a service really lists: names and argument values."""

from __future__ import annotations

from typing import Any

from jsonschema import Draft202012Validator, SchemaError
from jsonschema.exceptions import best_match

from voice_mcp.services.intents.converters import CONVERTERS
from voice_mcp.services.intents.loader import ServiceIntents
from voice_mcp.services.intents.models import IntentSpec, SlotArgument
from voice_mcp.services.mcp.models import ToolInfo


def check_against_tools(entry: ServiceIntents, tools: list[ToolInfo]) -> None:
    """Raise ConfigError (file + intent) for an unknown tool or an argument it would reject."""
    by_name = {tool.name: tool for tool in tools}
    for name, intent in entry.spec.intents.items():
        tool = by_name.get(intent.tool)
        if tool is None:
            raise entry.fault(name, f"tool '{intent.tool}' is not one of {entry.service}'s tools "
                                    f"({', '.join(sorted(by_name)) or 'none listed'})")
        problem = _argument_problem(entry, intent, tool)
        if problem is not None:
            raise entry.fault(name, problem)


def _argument_problem(entry: ServiceIntents, intent: IntentSpec, tool: ToolInfo) -> str | None:
    schema = tool.input_schema
    properties: dict[str, Any] = schema.get("properties") or {}
    missing = [r for r in schema.get("required", []) if r not in intent.arguments]
    if missing:
        return f"tool '{tool.name}' requires {', '.join(missing)}, which no argument fills"
    for argument, source in intent.arguments.items():
        if argument not in properties:
            if schema.get("additionalProperties") is False:
                return f"tool '{tool.name}' takes no argument '{argument}'"
            continue
        subschema = {**properties[argument], "$defs": schema.get("$defs", {})}
        for value in _sample_values(entry, source):
            problem = _rejects(subschema, value)
            if problem is not None:
                return f"argument '{argument}' = {str(value)[:60]!r}: {problem}"
    return None


def _sample_values(entry: ServiceIntents, source: SlotArgument) -> list[Any]:
    """The values an argument can take: the fixed one, or every value of a text list."""
    raws: list[Any]
    if source.slot is None:
        raws = [source.value]
    else:
        slot_list = entry.intents.slot_lists.get(_list_of(entry, source.slot))
        values = getattr(slot_list, "values", None) or []
        raws = [v.value_out for v in values]
    convert = CONVERTERS[source.convert] if source.convert else None
    converted = [convert(raw) if convert else raw for raw in raws]
    return [value for value in converted if value is not None]


def _list_of(entry: ServiceIntents, slot: str) -> str:
    """The list a slot is filled from (`{place:source}` fills slot source from list place)."""
    return entry.slot_sources.get(slot, slot)


def _rejects(schema: dict[str, Any], value: Any) -> str | None:
    try:
        error = best_match(Draft202012Validator(schema).iter_errors(value))
    except SchemaError:
        return None  # the server checks what its own schema cannot say
    return None if error is None else error.message[:120]
