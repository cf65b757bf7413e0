"""How much of a tool's output and progress is kept: a server decides their size, and both are
stored (done payload, events in memory and in Redis, the command's record, history).

Cut here, where results leave the MCP layer, so every copy downstream is bounded; the cut
is marked so nobody mistakes it for the whole output (docs/api.md, "Limits").
"""

from __future__ import annotations

MAX_OUTPUT_CHARS = 16_000  # a result's output as stored and shown (the LLM reads 8,000)
MAX_PROGRESS_CHARS = 300  # one progress message
MAX_PROGRESS_UPDATES = 100  # progress events per tool call; later ones are dropped


def clip(text: str, limit: int) -> str:
    """`text`, or its first characters and a marker saying how much was cut."""
    if len(text) <= limit:
        return text
    cut = len(text) - limit
    return f"{text[:limit]}\n[truncated: {cut} more characters]"
