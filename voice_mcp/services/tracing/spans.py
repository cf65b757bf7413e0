"""The spans of one command: a root, one per stage, one per LLM request, tool call and speech.

docs/operations.md, "Traces". Stages are laps of one clock (the done payload's `timings`):
the span of the running stage is open while it runs, so the LLM request or tool call inside
it nests under it, and it takes its wire name when the stage's lap is counted. Only the
OpenTelemetry API is used here; with tracing off every helper returns at once.

Privacy: no query, transcript, tool arguments or output, LLM messages or tool error texts
go into attributes unless `VOICE_MCP_TRACE_CONTENT=true`; the user is only a digest.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from opentelemetry.trace import Link, Span, SpanKind, StatusCode

from voice_mcp.errors import AppError
from voice_mcp.services.keyspace import user_part

if TYPE_CHECKING:
    from voice_mcp.services.llm.models import AssistantTurn
    from voice_mcp.services.mcp.models import ToolCallResult

Captured = otel_context.Context | None  # a caller's context, carried to another task
TAIL = "finish"  # what ran after the last counted stage (an ending cut short, say)


@dataclass
class TracingState:
    """Whether spans are made, and whether they may carry content (VOICE_MCP_TRACE_CONTENT)."""

    enabled: bool = False
    content: bool = False


STATE = TracingState()
_tracer = trace.get_tracer("voice_mcp")


class Traced:
    """One span, with the few things our call sites say about it."""

    def __init__(self, span: Span | None) -> None:
        self.span = span

    def set(self, key: str, value: str | int | float | bool | None) -> None:
        if self.span is not None and value is not None:
            self.span.set_attribute(key, value)

    def content(self, key: str, value: Any) -> None:
        """An attribute that may hold what the user said or a tool returned: opt-in only."""
        if self.span is not None and STATE.content and value is not None:
            self.set(key, value if isinstance(value, str) else json.dumps(value, default=str))

    def fail(self, code: str, message: str | None = None) -> None:
        """Mark the span failed with our error code (`error.type`)."""
        if self.span is not None:
            self.span.set_attribute("error.type", code)
            self.span.set_status(StatusCode.ERROR, message)

    def failed(self, exc: BaseException) -> None:
        """Record an exception as its code; a foreign one only by type (its text may leak)."""
        if isinstance(exc, asyncio.CancelledError):
            self.set("voice_mcp.cancelled", True)
        elif isinstance(exc, AppError):
            self.fail(exc.code, exc.message)
        else:
            self.fail(type(exc).__qualname__)

    def answered(self, turn: AssistantTurn, first_token_s: float | None) -> None:
        """An LLM round's usage (when the server reports it) and time to the first token."""
        if self.span is None:
            return
        if turn.usage is not None:
            self.set("gen_ai.usage.input_tokens", turn.usage.prompt_tokens)
            self.set("gen_ai.usage.output_tokens", turn.usage.completion_tokens)
        if turn.finish_reason:
            self.span.set_attribute("gen_ai.response.finish_reasons", [turn.finish_reason])
        self.set("gen_ai.response.time_to_first_chunk", first_token_s)
        self.set("voice_mcp.llm.tool_calls", len(turn.tool_calls))
        self.content("gen_ai.output.messages", turn.content)

    def tool_result(self, result: ToolCallResult) -> None:
        """A tool call's outcome: a failed result is an error; its text only with content on."""
        if result.success:
            self.content("gen_ai.tool.call.result", result.output)
            return
        self.fail("tool_error")
        self.content("voice_mcp.tool.error", result.error)


NOOP = Traced(None)


class CommandTrace:
    """The root span of one command and the span of the stage now running."""

    def __init__(self, root: Span, *, rounds: int = 0) -> None:
        self.root = root
        self.stage: Span | None = None
        self.used = False  # something nested under the running stage's span
        self.hint = TAIL  # the name it gets if the command ends before its lap
        self.rounds = rounds  # LLM requests so far (the first is `plan`, later `summarize`)

    def open_stage(self) -> None:
        """Start the next stage's span (named when its lap is counted) and make it current."""
        self.stage = _tracer.start_span("stage", trace.set_span_in_context(self.root))
        self.used, self.hint = False, TAIL
        otel_context.attach(trace.set_span_in_context(self.stage))

    def close_stage(self, name: str) -> None:
        if self.stage is not None:
            self.stage.update_name(name)
            self.stage.set_attribute("voice_mcp.stage", name)
            self.stage.end()
            self.stage = None

    def touch(self, hint: str) -> None:
        """A span starts inside the running stage: it is kept, and named after `hint` if cut."""
        self.used, self.hint = True, hint


_current: ContextVar[CommandTrace | None] = ContextVar("voice_mcp_command_trace", default=None)


def _link(carrier: Mapping[str, str] | None, why: str) -> list[Link]:
    if not carrier:
        return []
    parent = trace.get_current_span(propagate.extract(dict(carrier))).get_span_context()
    return [Link(parent, {"voice_mcp.link": why})] if parent.is_valid else []


def link_current(carrier: Mapping[str, str] | None, why: str) -> None:
    """Link the current span (a reader's request) to a command's stored trace context."""
    if not STATE.enabled:
        return
    span = trace.get_current_span()
    if span.is_recording():
        for link in _link(carrier, why):
            span.add_link(link.context, link.attributes)


def begin_command(command_id: str, user_id: str, conversation_id: str, query: str, *,
                  continues: Mapping[str, str] | None = None) -> CommandTrace | None:
    """Start a command's root span under the current context (an incoming `traceparent`).

    `continues`: the stored trace context of the command a confirmation continues, linked.
    """
    if not STATE.enabled:
        return None
    attributes: dict[str, Any] = {"commandId": command_id, "voice_mcp.user": user_part(user_id),
                                  "gen_ai.conversation.id": conversation_id}
    if STATE.content and query:
        attributes["voice_mcp.query"] = query
    links = _link(continues, "confirmation")
    root = _tracer.start_span("command", attributes=attributes, links=links)
    return CommandTrace(root, rounds=1 if links else 0)


def carrier(command: CommandTrace | None = None) -> dict[str, str]:
    """The W3C trace context (`traceparent`) of a command, or of the current span, to store."""
    found: dict[str, str] = {}
    if STATE.enabled:
        ctx = trace.set_span_in_context(command.root) if command is not None else None
        propagate.inject(found, context=ctx)
    # W3C trace context only: a caller's `baggage` is theirs, not ours to store.
    return {k: v for k, v in found.items() if k in ("traceparent", "tracestate")}


@contextmanager
def running(command: CommandTrace | None) -> Iterator[None]:
    """Run a command's work under its root span, and end the span with it."""
    if command is None:
        yield
        return
    token = _current.set(command)
    try:
        with trace.use_span(command.root, end_on_exit=True, record_exception=False,
                            set_status_on_exception=False):
            yield
    finally:
        _current.reset(token)


def observe(kind: str, data: Mapping[str, Any]) -> None:
    """Mark the root with how the command ended, from its `error` and `done` events."""
    command = _current.get()
    if command is None:
        return
    if kind == "error":
        Traced(command.root).fail(str(data.get("code")), str(data.get("message") or ""))
    elif kind == "done":
        command.root.set_attribute("voice_mcp.status", str(data.get("status")))
        if STATE.content and data.get("transcript"):
            command.root.set_attribute("voice_mcp.transcript", str(data["transcript"]))


@contextmanager
def stages() -> Iterator[None]:
    """Open the first stage's span in the command's own task; close what is left at the end.

    An ending cut short (a failure, a timeout) keeps its span, named after the work it was
    doing, with our error code; a tail with nothing in it is dropped.
    """
    command = _current.get()
    if command is None:
        yield
        return
    token = otel_context.attach(otel_context.get_current())
    command.open_stage()
    try:
        yield
    except BaseException as exc:
        if command.stage is not None:
            Traced(command.stage).failed(exc)
            command.close_stage(command.hint)
        raise
    finally:
        if command.stage is not None and command.used:
            command.close_stage(command.hint)
        command.stage = None
        otel_context.detach(token)


def lap(stage: str) -> None:
    """The running stage ended as `stage`: end its span so named, and open the next one."""
    command = _current.get()
    if command is None or command.stage is None:
        return
    command.close_stage(stage)
    command.open_stage()


@contextmanager
def _child(name: str, kind: SpanKind, attributes: dict[str, Any], hint: str) -> Iterator[Traced]:
    if not STATE.enabled:
        yield NOOP
        return
    command = _current.get()
    if command is not None:
        command.touch(hint)
    with _tracer.start_as_current_span(name, kind=kind, attributes=attributes,
                                       record_exception=False,
                                       set_status_on_exception=False) as span:
        traced = Traced(span)
        try:
            yield traced
        except BaseException as exc:
            traced.failed(exc)
            raise


def _server(url: str | None) -> dict[str, Any]:
    """`server.address` / `server.port` of a URL, never its path, query or credentials."""
    parts = urlsplit(url or "")
    if not parts.hostname:
        return {}
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        return {"server.address": parts.hostname}
    return {"server.address": parts.hostname, "server.port": port}


def llm_request(model: str, base_url: str, *, stream: bool) -> AbstractContextManager[Traced]:
    """A span for one chat-completions request (GenAI semantic conventions)."""
    if not STATE.enabled:
        return _child("", SpanKind.CLIENT, {}, "")
    command = _current.get()
    hint = "plan"
    if command is not None:
        hint = "plan" if command.rounds == 0 else "summarize"
        command.rounds += 1
    attributes = {"gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai",
                  "gen_ai.system": "openai", "gen_ai.request.model": model,
                  "gen_ai.request.stream": stream, **_server(base_url)}
    return _child(f"chat {model}", SpanKind.CLIENT, attributes, hint)


def tool_call(service: str, tool: str, transport: str | None, url: str | None,
              arguments: Any) -> AbstractContextManager[Traced]:
    """A span for one MCP tool call (MCP semantic conventions; the SDK's client span nests)."""
    if not STATE.enabled:
        return _child("", SpanKind.INTERNAL, {}, "")
    attributes = {"mcp.method.name": "tools/call", "gen_ai.operation.name": "execute_tool",
                  "gen_ai.tool.name": tool, "voice_mcp.service": service,
                  "voice_mcp.mcp.transport": transport or "unknown",
                  "network.transport": "pipe" if transport == "stdio" else "tcp",
                  **_server(url)}
    if STATE.content:
        attributes["gen_ai.tool.call.arguments"] = json.dumps(arguments, default=str)
    return _child(f"tools/call {tool}", SpanKind.INTERNAL, attributes, "execute")


def speech(operation: str, engine: str,
           **attributes: str | int) -> AbstractContextManager[Traced]:
    """A span for one transcription (`speech_to_text`) or synthesis (`text_to_speech`)."""
    if not STATE.enabled:
        return _child("", SpanKind.INTERNAL, {}, "")
    named = {"voice_mcp.speech.engine": engine,
             **{f"voice_mcp.speech.{k}": v for k, v in attributes.items()}}
    return _child(f"{operation} {engine}", SpanKind.INTERNAL, named, "transcribe")


def capture() -> Captured:
    """The caller's context, for work another task does on its behalf (an MCP request)."""
    return otel_context.get_current() if STATE.enabled else None


@contextmanager
def attached(ctx: Captured) -> Iterator[None]:
    """Run under a captured context, so spans and `traceparent` belong to that caller."""
    if ctx is None:
        yield
        return
    token = otel_context.attach(ctx)
    try:
        yield
    finally:
        otel_context.detach(token)


def detached() -> Captured:
    """An empty context, for long-lived background work that belongs to no command."""
    return otel_context.Context() if STATE.enabled else None
