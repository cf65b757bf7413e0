"""Offer discovered MCP tools to the LLM as `<service>__<tool>` functions, and map names back."""

from __future__ import annotations

import hashlib
import re
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from typing import Any, Final

from voice_mcp.services.mcp.models import ToolInfo

MAX_NAME_LENGTH: Final = 64
SEPARATOR: Final = "__"
MAX_DESCRIPTION_CHARS: Final = 1024

_HASH_CHARS: Final = 8
_INVALID = re.compile(r"[^a-zA-Z0-9_-]")
_EMPTY_SCHEMA: Final[dict[str, Any]] = {"type": "object", "properties": {}}


def function_name(service: str, tool: str, *, salt: int = 0) -> str:
    """Build the function name for one tool; names changed to fit get a hash of the original."""
    plain = f"{service}{SEPARATOR}{tool}"
    safe = _INVALID.sub("_", plain)
    if safe == plain and len(safe) <= MAX_NAME_LENGTH and salt == 0:
        return safe
    # A cut or cleaned name could meet another one; the hash of the untouched pair keeps them apart.
    digest = hashlib.sha256(f"{service}\0{tool}\0{salt}".encode()).hexdigest()[:_HASH_CHARS]
    return f"{safe[: MAX_NAME_LENGTH - _HASH_CHARS - 1]}_{digest}"


def sanitize_schema(schema: object) -> dict[str, Any]:
    """Return a parameters schema any OpenAI-compatible server accepts; the input is not changed."""
    if not isinstance(schema, dict) or not schema:
        return dict(_EMPTY_SCHEMA)
    clean = {k: v for k, v in schema.items() if k != "$schema"}
    clean.setdefault("type", "object")
    if clean["type"] == "object" and not isinstance(clean.get("properties"), dict):
        clean["properties"] = {}
    return clean


def _description(tool: ToolInfo) -> str:
    text = tool.description.strip() or (tool.title or "").strip() or tool.name
    return text[:MAX_DESCRIPTION_CHARS]


def _function(name: str, tool: ToolInfo) -> dict[str, Any]:
    return {
        "type": "function",
        "function": {
            "name": name,
            "description": _description(tool),
            "parameters": sanitize_schema(tool.input_schema),
        },
    }


class ToolSet:
    """The tools of one discovery as the LLM sees them, with the reverse name lookup."""

    def __init__(self, tools: Iterable[ToolInfo]) -> None:
        self._by_name: dict[str, ToolInfo] = {}
        self._by_key: dict[tuple[str, str], str] = {}
        for tool in tools:
            key = (tool.service, tool.name)
            if key in self._by_key:
                continue
            name = function_name(tool.service, tool.name)
            salt = 0
            while name in self._by_name:
                salt += 1
                name = function_name(tool.service, tool.name, salt=salt)
            self._by_name[name] = tool
            self._by_key[key] = name
        self._functions: dict[str, dict[str, Any]] = {
            name: _function(name, tool) for name, tool in self._by_name.items()
        }
        self.openai_tools: list[dict[str, Any]] = list(self._functions.values())

    def __len__(self) -> int:
        return len(self._by_name)

    @property
    def tools(self) -> list[ToolInfo]:
        """The distinct tools, in the order they were offered."""
        return list(self._by_name.values())

    def lookup(self, name: str) -> ToolInfo | None:
        """The tool behind a function name the LLM called, or None when it made one up."""
        return self._by_name.get(name)

    def find(self, service: str, tool: str) -> ToolInfo | None:
        """A tool of this set by service and name, or None when it is not offered."""
        name = self.name_of(service, tool)
        return None if name is None else self._by_name[name]

    def functions(self, tools: Iterable[ToolInfo]) -> list[dict[str, Any]]:
        """The functions offered for some of this set's tools, in their order (others skipped)."""
        names = (self._by_key.get((t.service, t.name)) for t in tools)
        return [self._functions[n] for n in dict.fromkeys(names) if n is not None]

    def name_of(self, service: str, tool: str) -> str | None:
        """The function name offered for a tool, or None when the tool is not in this set."""
        return self._by_key.get((service, tool))


class ToolSetCache:
    """Reuse the ToolSet of a tool list seen before, keyed by the identity of its ToolInfo objects.

    Discovery hands out the same frozen ToolInfo objects while its cache is warm, so the
    identity key is cheap and exact; holding the tools in the entry stops ids being reused.
    """

    def __init__(self, max_entries: int = 256) -> None:
        self._max = max_entries
        self._entries: OrderedDict[tuple[int, ...], tuple[Sequence[ToolInfo], ToolSet]] = (
            OrderedDict()
        )

    def get(self, tools: Sequence[ToolInfo]) -> ToolSet:
        """The ToolSet for these tools, built on first use."""
        key = tuple(map(id, tools))
        entry = self._entries.get(key)
        if entry is not None:
            self._entries.move_to_end(key)
            return entry[1]
        tool_set = ToolSet(tools)
        self._entries[key] = (tuple(tools), tool_set)
        if len(self._entries) > self._max:
            self._entries.popitem(last=False)
        return tool_set


_default_cache = ToolSetCache()


def tool_set_for(tools: Sequence[ToolInfo]) -> ToolSet:
    """The (cached) ToolSet for a discovered tool list."""
    return _default_cache.get(tools)
