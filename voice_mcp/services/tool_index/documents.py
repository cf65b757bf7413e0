"""What of a tool is indexed, how heavily each part counts, and the tool's content hash."""

from __future__ import annotations

import hashlib
import json
from collections import OrderedDict
from itertools import islice
from typing import Any, Final

from voice_mcp.services.mcp.models import ToolInfo
from voice_mcp.services.tool_index.tokens import tokenize

# Repetition is BM25's field weight: a word in the name says more than one deep in a schema.
NAME_WEIGHT: Final = 3
TITLE_WEIGHT: Final = 2
MAX_SCHEMA_DEPTH: Final = 3
MAX_TEXT_CHARS: Final = 4000  # a hostile server's megabyte description must not slow ranking
MAX_PROPERTIES: Final = 100  # per object level, for the same reason
MAX_ENUM_VALUES: Final = 20  # a long enum (country codes) says little about what a tool does


def _schema_text(schema: Any, depth: int = 0) -> list[str]:
    """Parameter names and descriptions, nested objects included up to a small depth."""
    if not isinstance(schema, dict) or depth > MAX_SCHEMA_DEPTH:
        return []
    parts: list[str] = []
    props = schema.get("properties")
    if isinstance(props, dict):
        for name, sub in islice(props.items(), MAX_PROPERTIES):
            parts.append(str(name))
            if isinstance(sub, dict):
                described = sub.get("description")
                if isinstance(described, str):
                    parts.append(described)
                parts.extend(_enum_values(sub))
                parts.extend(_schema_text(sub, depth + 1))
                parts.extend(_schema_text(sub.get("items"), depth + 1))
    return parts


def _enum_values(schema: dict[str, Any]) -> list[str]:
    """The string values a parameter may take ("chart_type": bar, pie, word_cloud)."""
    values = schema.get("enum")
    items = schema.get("items")
    if not isinstance(values, list) and isinstance(items, dict):
        values = items.get("enum")
    if not isinstance(values, list):
        return []
    return [v for v in values[:MAX_ENUM_VALUES] if isinstance(v, str)]


class TokenCache:
    """Tokens per tool content, so a rebuilt index re-reads only the tools that changed."""

    def __init__(self, max_entries: int = 50_000) -> None:
        self._max = max_entries
        self._entries: OrderedDict[tuple[str, str], list[str]] = OrderedDict()

    def tokens(self, tool: ToolInfo, content: str, service_title: str) -> list[str]:
        """The tokens of a tool whose content hash is `content`."""
        key = (content, service_title)
        found = self._entries.get(key)
        if found is None:
            found = tool_tokens(tool, service_title)
            self._entries[key] = found
            if len(self._entries) > self._max:
                self._entries.popitem(last=False)
        return found

    def clear(self) -> None:
        """Forget every entry (benchmarks measuring a cold build)."""
        self._entries.clear()


def tool_tokens(tool: ToolInfo, service_title: str = "") -> list[str]:
    """The tokens one tool is found by: name, title, description, parameters, service."""
    tokens = tokenize(tool.name) * NAME_WEIGHT
    if tool.title:
        tokens += tokenize(tool.title[:MAX_TEXT_CHARS]) * TITLE_WEIGHT
    tokens += tokenize(tool.description[:MAX_TEXT_CHARS])
    tokens += tokenize(" ".join(_schema_text(tool.input_schema))[:MAX_TEXT_CHARS])
    tokens += tokenize(" ".join(_schema_text(tool.output_schema))[:MAX_TEXT_CHARS])
    tokens += tokenize(f"{tool.service} {service_title}")
    return tokens


def content_hash(tool: ToolInfo) -> str:
    """A stable hash of everything that is indexed or embedded for a tool."""
    body = json.dumps([tool.service, tool.name, tool.title, tool.description,
                       tool.input_schema, tool.output_schema], sort_keys=True, default=str)
    return hashlib.sha256(body.encode()).hexdigest()


def embedding_text(tool: ToolInfo, service_title: str = "") -> str:
    """The text embedded for a tool: what a person would read to choose it."""
    params = ", ".join(_schema_text(tool.input_schema))
    head = f"{service_title or tool.service}: {tool.title or tool.name}"
    return f"{head}\n{tool.description}\n{params}"[:MAX_TEXT_CHARS]
