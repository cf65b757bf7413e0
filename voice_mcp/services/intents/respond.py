"""Response templates: `str.format` syntax over a read-only mapping, safe for hostile tool output.

`{result.target.datetime:clock}` looks up keys (never attributes: a template cannot reach
Python internals), and the format spec names a filter from FILTERS instead of a Python format.
"""

from __future__ import annotations

import string
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

MAX_RESPONSE_CHARS = 600
MAX_FIELD_CHARS = 200


class TemplateError(ValueError):
    """A response template uses syntax or a filter this mechanism does not allow."""


def _clock(value: Any) -> str:
    """An ISO datetime (or "HH:MM") as a spoken clock time: "9:14 pm"."""
    text = str(value)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        try:
            moment = datetime.strptime(text, "%H:%M")
        except ValueError:
            return text
    hour = moment.hour % 12 or 12
    return f"{hour}:{moment.minute:02d} {'am' if moment.hour < 12 else 'pm'}"


def _weekday(value: Any) -> str:
    try:
        return datetime.fromisoformat(str(value)).strftime("%A")
    except ValueError:
        return str(value)


def _where(value: Any) -> str:
    """A place as said after a time: "here", or "in Tokyo"."""
    text = str(value)
    return text if text.lower() in ("here", "") else f"in {text}"


FILTERS: dict[str, Callable[[Any], str]] = {
    "": str,
    "clock": _clock,
    "weekday": _weekday,
    "where": _where,
    "upper": lambda v: str(v).upper(),
    "lower": lambda v: str(v).lower(),
    "title": lambda v: str(v).title(),
}


class _Formatter(string.Formatter):
    def get_field(self, field_name: str, args: Any, kwargs: Mapping[str, Any]) -> Any:
        if "[" in field_name or not field_name or field_name[0].isdigit():
            raise TemplateError(f"field {field_name!r}: use dotted names such as result.time")
        value: Any = kwargs
        for part in field_name.split("."):
            if isinstance(value, Mapping) and part in value:
                value = value[part]
            elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
                value = value[int(part)]
            else:
                return "", field_name
        return value, field_name

    def convert_field(self, value: Any, conversion: str | None) -> Any:
        if conversion is not None:
            raise TemplateError("conversions such as !r are not allowed")
        return value

    def format_field(self, value: Any, format_spec: str) -> str:
        try:
            shown = FILTERS[format_spec](value)
        except KeyError:
            raise TemplateError(f"unknown filter {format_spec!r}") from None
        return shown[:MAX_FIELD_CHARS]


_FORMATTER = _Formatter()


def check_template(template: str) -> None:
    """Raise TemplateError when the template cannot be rendered (bad syntax or filter)."""
    for _text, field, spec, conversion in _FORMATTER.parse(template):
        if field is None:
            continue
        if conversion is not None or (spec or "") not in FILTERS or "{" in (spec or ""):
            raise TemplateError(f"field {{{field}}}: unknown filter or conversion")
        if not field or "[" in field or field[0].isdigit():
            raise TemplateError(f"field {{{field}}}: use dotted names such as result.time")


def render(template: str, context: Mapping[str, Any]) -> str:
    """Fill the template; missing fields render empty, the text is cut to a sane length."""
    text = _FORMATTER.vformat(template, (), context)
    return " ".join(text.split())[:MAX_RESPONSE_CHARS]
