"""Traces in tests: the SDK's in-memory exporter, and a notes server that keeps `traceparent`.

The process has one global tracer provider; it is installed once, and spans reach the
exporter only while a test has tracing on (the `spans` fixture), so other tests keep none.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from mcp.server.context import CallNext, HandlerResult, ServerRequestContext
from mcp.server.mcpserver import MCPServer
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from tests.mcp_servers.notes_server import ServerKnobs, ServerStats, build_server
from tests.mcp_servers.runner import RunningServer
from voice_mcp.services import tracing


class _WhileTracing(SimpleSpanProcessor):
    """Export only while a test has tracing on."""

    def on_end(self, span: ReadableSpan) -> None:
        if tracing.STATE.enabled:
            super().on_end(span)


_exporter: InMemorySpanExporter | None = None


def memory_exporter() -> InMemorySpanExporter:
    """The process-wide in-memory exporter, installed on first use."""
    global _exporter
    if _exporter is None:
        _exporter = InMemorySpanExporter()
        provider = TracerProvider()
        provider.add_span_processor(_WhileTracing(_exporter))
        trace.set_tracer_provider(provider)
    return _exporter


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    """Tracing on (content off) for one test; its finished spans in `.get_finished_spans()`."""
    exporter = memory_exporter()
    exporter.clear()
    tracing.STATE.enabled, tracing.STATE.content = True, False
    try:
        yield exporter
    finally:
        tracing.STATE.enabled, tracing.STATE.content = False, False
        exporter.clear()


def tree(finished: tuple[ReadableSpan, ...] | list[ReadableSpan]) -> dict[str, list[str]]:
    """Span name -> the names of its children, in start order (for shape assertions)."""
    by_id = {s.context.span_id: s for s in finished}
    children: dict[str, list[str]] = {s.name: [] for s in finished}
    for span in sorted(finished, key=lambda s: s.start_time or 0):
        if span.parent is not None and span.parent.span_id in by_id:
            children[by_id[span.parent.span_id].name].append(span.name)
    return children


def named(finished: Any, name: str) -> list[ReadableSpan]:
    return [s for s in finished if s.name == name]


class TraceKeeper:
    """What the server saw in each tools/call's `_meta`: its `traceparent`, by tool name."""

    def __init__(self) -> None:
        self.received: dict[str, str | None] = {}


def trace_keeping_server(keeper: TraceKeeper) -> RunningServer:
    """The notes server over Streamable HTTP, noting the `traceparent` of each tool call."""

    def build(stats: ServerStats, knobs: ServerKnobs) -> MCPServer:
        server = build_server(stats, knobs)

        async def keep(ctx: ServerRequestContext[Any, Any], call_next: CallNext) -> HandlerResult:
            if ctx.method == "tools/call" and ctx.params:
                meta = ctx.meta or {}
                parent = meta.get("traceparent")
                keeper.received[str(ctx.params.get("name"))] = str(parent) if parent else None
            return await call_next(ctx)

        server.middleware.append(keep)
        return server

    return RunningServer("streamable-http", build=build)
