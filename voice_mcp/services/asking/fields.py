"""A form question's schema as fields a device can show or speak, and its answers checked.

MCP form elicitation asks with a flat object schema of primitive properties; SEP-1034 adds
defaults, SEP-1330 titled (`oneOf` of `const`/`title`) and multi-select (`array` of `enum`
or `anyOf`) enums, and the legacy `enumNames`.
"""

from __future__ import annotations

import re
from typing import Any

from jsonschema import Draft202012Validator, SchemaError

_KEPT = ("title", "description", "default", "format", "minimum", "maximum")
# Form mode must not carry secrets (MCP 2025-11-25): such a field is refused, not asked.
_SECRET = re.compile(
    r"pass(word|phrase|code)?\b|passwd|secret|token|api[\s_-]?key|private[\s_-]?key|"
    r"\bpin\b|cvv|cvc|security[\s_-]?code|card[\s_-]?(number|no)|credit[\s_-]?card|"
    r"\biban\b|\bssn\b|social[\s_-]?security|otp|one[\s_-]?time", re.IGNORECASE)


def _options(spec: dict[str, Any]) -> tuple[list[Any], list[str] | None]:
    """An enum's values and titles, from `enum` (+ `enumNames`) or `oneOf`/`anyOf` consts."""
    if isinstance(spec.get("enum"), list):
        names = spec.get("enumNames")
        return list(spec["enum"]), [str(n) for n in names] if isinstance(names, list) else None
    choices = spec.get("oneOf") or spec.get("anyOf")
    if isinstance(choices, list) and all(isinstance(c, dict) and "const" in c for c in choices):
        return [c["const"] for c in choices], [str(c.get("title", c["const"])) for c in choices]
    return [], None


def _field(name: str, spec: dict[str, Any], required: bool) -> dict[str, Any]:
    field: dict[str, Any] = {"name": name, "type": spec.get("type", "string"),
                             "required": required}
    field.update({k: spec[k] for k in _KEPT if k in spec})
    items = spec.get("items") if field["type"] == "array" else None
    values, titles = _options(items if isinstance(items, dict) else spec)
    if values:
        field["enum"] = values
        if titles is not None:
            field["enumTitles"] = titles
    return field


def form_fields(schema: dict[str, Any]) -> list[dict[str, Any]]:
    """The schema's properties as `input_required` fields, in their given order."""
    properties = schema.get("properties") or {}
    required = set(schema.get("required") or [])
    return [_field(name, spec if isinstance(spec, dict) else {}, name in required)
            for name, spec in properties.items()]


def secret_fields(fields: list[dict[str, Any]]) -> list[str]:
    """The fields that look like a password, token or card number."""
    found = []
    for field in fields:
        words = " ".join(str(field.get(k, "")) for k in ("name", "title", "description"))
        if field.get("format") == "password" or _SECRET.search(words.replace("_", " ")):
            found.append(str(field["name"]))
    return found


def with_defaults(fields: list[dict[str, Any]], content: dict[str, Any]) -> dict[str, Any]:
    """The answer with every omitted field that has a default filled in with it."""
    filled = dict(content)
    for field in fields:
        if field["name"] not in filled and "default" in field:
            filled[field["name"]] = field["default"]
    return filled


def problems(schema: dict[str, Any], content: dict[str, Any]) -> dict[str, str]:
    """Each field that is missing or invalid, with why; empty when `content` fits the schema."""
    try:
        errors = list(Draft202012Validator(schema).iter_errors(content))
    except SchemaError:
        return {"": "the service's question has an invalid schema"}
    found: dict[str, str] = {}
    known = set((schema.get("properties") or {}).keys())
    for error in errors:
        if error.validator == "required":
            missing = [n for n in schema.get("required", []) if n not in content]
            for name in missing:
                found.setdefault(name, "missing")
        else:
            name = str(error.path[0]) if error.path else ""
            found.setdefault(name, error.message[:200])
    for name in content:
        if name not in known:
            found.setdefault(name, "not a field of this question")
    return found
