"""Turn MCP SDK types into the app's models: tools into ToolInfo, call results into text."""

from __future__ import annotations

import json
from collections.abc import Sequence

import mcp.types as types

from voice_mcp.services.mcp.failures import short
from voice_mcp.services.mcp.models import ToolHints, ToolInfo

ERROR_LIMIT = 500


def tool_info(service_id: str, tool: types.Tool) -> ToolInfo:
    """A listed tool, with its annotations mapped to the hints the risk layer reads."""
    notes = tool.annotations
    hints = ToolHints(
        read_only=notes.read_only_hint if notes else None,
        destructive=notes.destructive_hint if notes else None,
        idempotent=notes.idempotent_hint if notes else None,
        open_world=notes.open_world_hint if notes else None,
    )
    return ToolInfo(
        service=service_id,
        name=tool.name,
        title=tool.title or (notes.title if notes else None),
        description=tool.description or "",
        input_schema=dict(tool.input_schema) if tool.input_schema else {"type": "object"},
        output_schema=dict(tool.output_schema) if tool.output_schema else None,
        hints=hints,
    )


def content_text(blocks: Sequence[types.ContentBlock]) -> str:
    """The text a result carries, one block per line; other media are named, not inlined."""
    parts: list[str] = []
    for block in blocks:
        if isinstance(block, types.TextContent):
            parts.append(block.text)
        elif isinstance(block, types.EmbeddedResource):
            resource = block.resource
            if isinstance(resource, types.TextResourceContents):
                parts.append(resource.text)
            else:
                parts.append(f"[{resource.mime_type or 'binary'} resource {resource.uri}]")
        elif isinstance(block, types.ResourceLink):
            parts.append(f"[resource {block.uri}]")
        elif isinstance(block, types.ImageContent | types.AudioContent):
            parts.append(f"[{block.mime_type}]")
    return "\n".join(parts)


def result_text(result: types.CallToolResult) -> str:
    """The output: the text blocks, or the structured content as JSON when there are none."""
    text = content_text(result.content)
    if not text and result.structured_content is not None:
        return json.dumps(result.structured_content, ensure_ascii=False)
    return text


def error_text(result: types.CallToolResult) -> str:
    """A short error from an `isError` result."""
    return short(result_text(result) or "the tool reported an error", ERROR_LIMIT)
