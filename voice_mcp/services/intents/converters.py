"""Named converters that turn a slot's value into a tool argument (None: it does not convert)."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from voice_mcp.services.intents.clock import parse_clock
from voice_mcp.services.intents.places import LOCAL

Converter = Callable[[Any], Any]


def local_zone() -> str:
    """This machine's IANA zone: $TZ, /etc/timezone, the /etc/localtime link, else UTC."""
    candidates = [os.environ.get("TZ", "").lstrip(":")]
    timezone_file = Path("/etc/timezone")
    if timezone_file.is_file():
        candidates.append(timezone_file.read_text(encoding="utf-8").strip())
    localtime = Path("/etc/localtime")
    if localtime.is_symlink():
        candidates.append(str(localtime.resolve()).partition("zoneinfo/")[2])
    return next((c for c in candidates if c and _is_zone(c)), "UTC")


def _is_zone(name: str) -> bool:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


def _timezone(value: Any) -> str | None:
    """An IANA zone name; "local" (said as "here") becomes this machine's zone."""
    if value == LOCAL:
        return local_zone()
    return value if isinstance(value, str) and value in _zones() else None


def _zones() -> set[str]:
    global _ZONES
    if _ZONES is None:
        _ZONES = available_timezones() | {"UTC"}
    return _ZONES


_ZONES: set[str] | None = None


def _number(kind: type[int] | type[float]) -> Converter:
    def convert(value: Any) -> Any:
        try:
            return kind(value)
        except (TypeError, ValueError):
            return None
    return convert


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


CONVERTERS: dict[str, Converter] = {
    "clock_time": lambda value: parse_clock(value) if isinstance(value, str) else None,
    "timezone": _timezone,
    "int": _number(int),
    "float": _number(float),
    "text": _text,
    "lower": lambda value: value.lower() if isinstance(value, str) else None,
}
