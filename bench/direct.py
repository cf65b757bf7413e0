"""The baseline: the same single-tool command done by hand with the openai and mcp SDKs.

No server, one process: AsyncOpenAI against the same fake LLM, and an `mcp.Client` kept warm
on its own stdio child of the same notes server. The requests match what voice-mcp sends
(same system prompt, the same tools plus `ask_user`, streamed completions with usage), so
the difference is what the server adds: HTTP, auth, SSE, Redis, the orchestration.
"""

from __future__ import annotations

import contextlib
import json
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any, cast

import openai
from mcp import Client, StdioServerParameters, types

from bench.client import QUERY
from bench.processes import REPO_ROOT
from voice_mcp.services.llm.prompts import ASK_USER_TOOL, system_message
from voice_mcp.services.store import free_port

SERVICE = "notes"


@dataclass
class DirectAgent:
    """A warm LLM client and MCP session, and the tools offered, ready for commands."""

    llm: openai.AsyncOpenAI
    mcp: Client
    tools: list[dict[str, Any]]
    mcp_stats_url: str  # its own notes server's counters and tool times
    llm_ms: list[float] = field(default_factory=list)  # each chat request, SDK call to last chunk
    tool_ms: list[float] = field(default_factory=list)  # each call_tool

    async def command(self, query: str = QUERY) -> float:
        """Run one command to its final answer; returns the wall time in ms."""
        started = time.perf_counter()
        messages: list[dict[str, Any]] = [system_message(), {"role": "user", "content": query}]
        for _round in range(5):
            content, calls = await self._complete(messages)
            if not calls:
                if not content:
                    raise RuntimeError("the LLM gave an empty answer")
                return (time.perf_counter() - started) * 1000
            messages.append({"role": "assistant", "content": content or None,
                             "tool_calls": [{"id": c["id"], "type": "function",
                                             "function": {"name": c["name"],
                                                          "arguments": c["arguments"]}}
                                            for c in calls]})
            for tool_call in calls:
                name = tool_call["name"].split("__", 1)[1]
                called = time.perf_counter()
                result = await self.mcp.call_tool(name, json.loads(tool_call["arguments"] or "{}"))
                self.tool_ms.append((time.perf_counter() - called) * 1000)
                text = "".join(b.text for b in result.content if isinstance(b, types.TextContent))
                messages.append({"role": "tool", "tool_call_id": tool_call["id"], "content": text})
        raise RuntimeError("the LLM never answered")

    async def _complete(self, messages: list[dict[str, Any]]) -> tuple[str, list[dict[str, str]]]:
        started = time.perf_counter()
        stream = await self.llm.chat.completions.create(
            model="gpt-5-mini", messages=cast(Any, messages), tools=cast(Any, self.tools),
            stream=True, stream_options={"include_usage": True})
        content: list[str] = []
        calls: dict[int, dict[str, str]] = {}
        async with stream:
            async for chunk in stream:
                for choice in chunk.choices:
                    delta = choice.delta
                    if delta.content:
                        content.append(delta.content)
                    for part in delta.tool_calls or []:
                        entry = calls.setdefault(part.index, {"id": "", "name": "",
                                                              "arguments": ""})
                        entry["id"] = part.id or entry["id"]
                        if part.function is not None:
                            entry["name"] += part.function.name or ""
                            entry["arguments"] += part.function.arguments or ""
        self.llm_ms.append((time.perf_counter() - started) * 1000)
        return "".join(content), [calls[i] for i in sorted(calls)]


@contextlib.asynccontextmanager
async def direct_agent(llm_base_url: str) -> AsyncIterator[DirectAgent]:
    """Open the MCP session (one handshake, one listing) and the LLM client, kept warm."""
    stats_port = free_port()
    params = StdioServerParameters(
        command=sys.executable, args=["-m", "bench.mcp_server", "--stats-port", str(stats_port)],
        cwd=str(REPO_ROOT))
    llm = openai.AsyncOpenAI(base_url=llm_base_url, api_key="sk-bench", max_retries=0)
    try:
        async with Client(params) as mcp:
            listed = await mcp.list_tools()
            tools = [{"type": "function",
                      "function": {"name": f"{SERVICE}__{t.name}",
                                   "description": t.description or "",
                                   "parameters": t.input_schema}} for t in listed.tools]
            yield DirectAgent(llm=llm, mcp=mcp, tools=[*tools, ASK_USER_TOOL],
                              mcp_stats_url=f"http://127.0.0.1:{stats_port}/stats")
    finally:
        await llm.close()
