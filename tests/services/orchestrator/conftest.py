"""An orchestrator with fakes at its edges (LLM, MCP) and real Redis stores, no HTTP.

As in Home Assistant's pipeline tests: the service boundary is faked, the pipeline and
its stores are real, and a test reads the events a run emits.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, cast

import pytest
import redis.asyncio as aioredis

from tests.fixtures.mcp_servers import make_catalog, notes_stdio
from voice_mcp.services.confirmations import ConfirmationStore
from voice_mcp.services.history import HistoryStore
from voice_mcp.services.intents import LocalIntents
from voice_mcp.services.llm.client import LLMClient, RoundListener
from voice_mcp.services.llm.models import AssistantTurn, ToolCallRequest
from voice_mcp.services.mcp.manager import McpManager
from voice_mcp.services.mcp.models import DiscoveryResult, ToolCallResult, ToolHints, ToolInfo
from voice_mcp.services.mcp.session import ProgressFn
from voice_mcp.services.mcp.validation import ArgumentValidator
from voice_mcp.services.metrics import Metrics
from voice_mcp.services.orchestrator import Command, Event, Orchestrator
from voice_mcp.services.orchestrator.deps import Deps
from voice_mcp.services.stt.openai import Transcriber
from voice_mcp.services.tool_index import ToolOffering

SCHEMA = {"type": "object", "properties": {"text": {"type": "string"}}, "required": ["text"]}
READ = ToolInfo(service="notes", name="list_notes", description="List the notes.",
                hints=ToolHints(read_only=True))
DELETE = ToolInfo(service="notes", name="delete_note", description="Delete a note.",
                  input_schema=SCHEMA, hints=ToolHints(destructive=True))
Behaviour = Callable[[dict[str, Any], ProgressFn | None], Awaitable[ToolCallResult]]


class FakeLLM:
    """Answers each request with the next scripted turn; keeps what it was sent."""

    def __init__(self, *turns: AssistantTurn) -> None:
        self.turns = list(turns)
        self.seen: list[list[dict[str, Any]]] = []

    async def complete(self, messages: list[dict[str, Any]], tools: list[dict[str, Any]],
                       listener: RoundListener | None = None) -> AssistantTurn:
        self.seen.append([dict(m) for m in messages])
        turn = self.turns.pop(0)
        if listener is not None:
            listener.token()
            if listener.on_text is not None and turn.content and not turn.tool_calls:
                listener.on_text(turn.content)  # streamed as one piece
        return turn


def call(name: str, call_id: str = "call-1", **arguments: Any) -> AssistantTurn:
    """A turn that calls one tool, by the function name the LLM sees."""
    return AssistantTurn(tool_calls=[ToolCallRequest(id=call_id, name=name, arguments=arguments)])


def answer(text: str) -> AssistantTurn:
    return AssistantTurn(content=text)


@dataclass
class FakeMcp:
    """The MCP manager's surface the orchestrator uses, with per-tool behaviour."""

    tools: list[ToolInfo] = field(default_factory=lambda: [READ, DELETE])
    behaviour: dict[str, Behaviour] = field(default_factory=dict)
    calls: list[tuple[str, ToolInfo | str]] = field(default_factory=list)  # (how, tool)
    validator: ArgumentValidator = field(default_factory=ArgumentValidator)

    async def discover(self, user_id: str, service_ids: list[str]) -> DiscoveryResult:
        return DiscoveryResult(tools=[t for t in self.tools if t.service in service_ids])

    def validate_arguments(self, tool: ToolInfo, arguments: Any) -> str | None:
        return self.validator.problem(tool, arguments)

    async def call(self, user_id: str, tool: ToolInfo, arguments: dict[str, Any], *,
                   progress: ProgressFn | None = None) -> ToolCallResult:
        self.calls.append(("resolved", tool))
        return await self._run(tool.name, arguments, progress)

    async def call_tool(self, user_id: str, service_id: str, tool: str,
                        arguments: dict[str, Any], *,
                        progress: ProgressFn | None = None) -> ToolCallResult:
        self.calls.append(("by-name", f"{service_id}.{tool}"))
        return await self._run(tool, arguments, progress)

    async def _run(self, name: str, arguments: dict[str, Any],
                   progress: ProgressFn | None) -> ToolCallResult:
        behaviour = self.behaviour.get(name)
        if behaviour is not None:
            return await behaviour(arguments, progress)
        return ToolCallResult(service="notes", tool=name, arguments=arguments, success=True,
                              output=f"{name} ok", duration_ms=3)


class Directory:
    async def usable(self, user_id: str) -> tuple[list[str], dict[str, str]]:
        return ["notes"], {}


@dataclass
class Harness:
    orchestrator: Orchestrator
    llm: FakeLLM
    mcp: FakeMcp
    metrics: Metrics
    confirmations: ConfirmationStore

    def tool_calls(self, success: str) -> float:
        value = self.metrics.registry.get_sample_value(
            "voice_mcp_tool_calls_total", {"service": "notes", "success": success})
        return value or 0.0

    async def run(self, query: str, conversation_id: str = "conv-1") -> list[Event]:
        command = Command(user_id="alice", query=query, conversation_id=conversation_id)
        return await collect(self.orchestrator.run(command))

    async def confirm(self, confirmation_id: str, approved: bool) -> list[Event]:
        pending = await self.orchestrator.take_confirmation("alice", confirmation_id)
        return await collect(self.orchestrator.resume(pending, approved))


async def collect(events: AsyncIterator[Event]) -> list[Event]:
    return [event async for event in events]


@pytest.fixture
async def harness(make_settings, redis_client: aioredis.Redis):  # type: ignore[no-untyped-def]
    """Build an orchestrator over scripted LLM turns: `harness(*turns)`."""

    def build(*turns: AssistantTurn, mcp: FakeMcp | None = None,
              intents: LocalIntents | None = None, history: HistoryStore | None = None
              ) -> Harness:
        # The LLM is the scripted fake; the URL only says "an LLM is configured".
        settings = make_settings(confirmation_ttl_s=60, llm_base_url="http://127.0.0.1:9/v1")
        llm, fake_mcp, metrics = FakeLLM(*turns), mcp or FakeMcp(), Metrics()
        confirmations = ConfirmationStore(redis_client, settings.confirmation_ttl_s)
        deps = Deps(settings=settings, catalog=make_catalog(notes_stdio()),
                    mcp=cast(McpManager, fake_mcp), llm=cast(LLMClient, llm),
                    history=history or HistoryStore(redis_client), confirmations=confirmations,
                    directory=Directory(), transcriber=cast(Transcriber, None), metrics=metrics,
                    offering=ToolOffering(settings.tool_budget),
                    intents=intents or LocalIntents([]))
        return Harness(Orchestrator(deps), llm, fake_mcp, metrics, confirmations)

    return build
