"""An MCP server whose tools ask the user mid-call, every way the protocol has: a form
(elicitation/create, 2025-11-25, with SEP-1034 defaults and a SEP-1330 titled enum), a
secret the client must refuse, the URL-elicitation-required error (-32042), and, for
2026-07-28 clients, input-required results over several rounds. Each tool's result says
what it received, so a test reads the server's side from the answer."""

from __future__ import annotations

import json
import threading
import warnings
from typing import Any

import anyio
from mcp.server.mcpserver import Context, MCPServer
from mcp.shared.exceptions import MCPDeprecationWarning, MCPError, UrlElicitationRequiredError
from mcp.types import (
    CreateMessageRequest,
    CreateMessageRequestParams,
    CreateMessageResult,
    ElicitRequest,
    ElicitRequestFormParams,
    ElicitRequestURLParams,
    ElicitResult,
    InputRequiredResult,
    SamplingMessage,
    TextContent,
)

from tests.mcp_servers.notes_server import ServerKnobs, ServerStats

MEETING = {"type": "object", "required": ["calendar"], "properties": {
    "calendar": {"type": "string", "title": "Calendar", "oneOf": [
        {"const": "cal-work", "title": "Work"}, {"const": "cal-home", "title": "Home"}]},
    "people": {"type": "integer", "title": "People", "minimum": 1, "maximum": 20,
               "default": 2}}}
SECRET = {"type": "object", "properties": {"password": {"type": "string", "title": "Password"}}}
SIZES = {"type": "object", "required": ["size"], "properties": {
    "size": {"type": "string", "enum": ["small", "large"]}}}
COUNT = {"type": "object", "required": ["count"], "properties": {"count": {"type": "integer"}}}
TABLE: dict[str, Any] = {"type": "object", "required": ["people", "time"], "properties": {
    "people": {"type": "integer", "title": "People", "minimum": 1, "maximum": 12},
    "time": {"type": "string", "title": "Time", "description": "24-hour time, HH:MM",
             "pattern": "^[0-2][0-9]:[0-5][0-9]$"}}}
DOORSTEP = {"type": "object", "required": ["doorstep"], "properties": {
    "doorstep": {"type": "boolean", "title": "Leave it at the door"}}}
PAY_URL = "https://pay.example/checkout/1"
# Pages a test "visits": the `visit` tool tells the client it is done once its page is set.
VISITED: dict[str, threading.Event] = {}


def _said(result: ElicitResult | Any) -> str:
    if not isinstance(result, ElicitResult):
        return "none"
    return f"{result.action} {json.dumps(result.content, sort_keys=True)}"


def build_question_server(stats: ServerStats, knobs: ServerKnobs) -> MCPServer:
    server = MCPServer("questions", log_level="WARNING")
    paid: set[str] = set()

    async def ask(ctx: Context, tool: str, message: str, schema: dict[str, Any]) -> str:
        stats.record(lambda s: s.tool_calls.update([tool]))
        result = await ctx.request_context.session.elicit_form(
            message, schema, related_request_id=ctx.request_id)
        return f"got: {_said(result)}"

    @server.tool()
    async def plan_meeting(ctx: Context) -> str:
        """Plan a meeting; asks which calendar and for how many people."""
        return await ask(ctx, "plan_meeting", "Which calendar, and for how many?", MEETING)

    @server.tool()
    def book_table(ctx: Context) -> str | InputRequiredResult:
        """Book a table (2026-07-28: asks for how many and when, two fields in one question)."""
        stats.record(lambda s: s.tool_calls.update(["book_table"]))
        answer = (ctx.input_responses or {}).get("table")
        if answer is None:
            return InputRequiredResult(request_state="table", input_requests={
                "table": ElicitRequest(params=ElicitRequestFormParams(
                    message="For how many people, and at what time?",
                    requested_schema=TABLE))})
        return f"got: {_said(answer)}"

    @server.tool()
    def deliver(ctx: Context) -> str | InputRequiredResult:
        """Deliver the order (2026-07-28: asks one yes/no question)."""
        stats.record(lambda s: s.tool_calls.update(["deliver"]))
        answer = (ctx.input_responses or {}).get("doorstep")
        if answer is None:
            return InputRequiredResult(request_state="deliver", input_requests={
                "doorstep": ElicitRequest(params=ElicitRequestFormParams(
                    message="Leave it at the door?", requested_schema=DOORSTEP))})
        return f"delivery: {_said(answer)}"

    @server.tool()
    async def sign_in(ctx: Context) -> str:
        """Sign in (asks for a password, which a voice client must refuse)."""
        return await ask(ctx, "sign_in", "Your password?", SECRET)

    @server.tool()
    async def pay(ctx: Context) -> str:
        """Pay; the first call needs the user on the payment page."""
        stats.record(lambda s: s.tool_calls.update(["pay"]))
        if "pay-1" not in paid:
            paid.add("pay-1")
            raise UrlElicitationRequiredError([ElicitRequestURLParams(
                message="Confirm the amount on the payment page.", url=PAY_URL,
                elicitation_id="pay-1")])
        return "paid"

    @server.tool()
    def order_pizza(ctx: Context) -> str | InputRequiredResult:
        """Order a pizza (2026-07-28: asks the size, then how many, in two rounds)."""
        stats.record(lambda s: s.tool_calls.update(["order_pizza"]))
        answers = ctx.input_responses or {}
        if "size" not in answers and ctx.request_state is None:
            return InputRequiredResult(request_state="round1", input_requests={
                "size": ElicitRequest(params=ElicitRequestFormParams(
                    message="Which size?", requested_schema=SIZES))})
        if ctx.request_state == "round1":
            size = _said(answers.get("size"))
            return InputRequiredResult(request_state=f"round2|{size}", input_requests={
                "count": ElicitRequest(params=ElicitRequestFormParams(
                    message="How many?", requested_schema=COUNT))})
        return f"order: {(ctx.request_state or '').split('|', 1)[-1]}; " \
               f"{_said(answers.get('count'))}"

    @server.tool()
    async def visit(ctx: Context, page: str) -> str:
        """Send the user to a page (URL mode); say it is complete once the page was visited."""
        session, results = ctx.request_context.session, []

        async def ask() -> None:
            results.append(await session.elicit_url(
                "Sign the form on the page.", f"https://forms.example/{page}", page,
                related_request_id=ctx.request_id))

        async with anyio.create_task_group() as group:
            group.start_soon(ask)
            await anyio.to_thread.run_sync(lambda: VISITED[page].wait(10))
            await session.send_elicit_complete(page, related_request_id=ctx.request_id)
        return f"got: {_said(results[0])}"

    @server.tool()
    async def haiku(ctx: Context) -> str:
        """Write a haiku (asks the client's LLM: sampling, 2025-11-25)."""
        try:
            with warnings.catch_warnings():  # deprecated in 2026-07-28, still 2025-11-25's way
                warnings.simplefilter("ignore", MCPDeprecationWarning)
                result = await ctx.request_context.session.create_message(
                    [_line()], max_tokens=50, related_request_id=ctx.request_id)
        except MCPError as err:
            return f"refused: {err.error.message}"
        return f"wrote: {_text(result)}"

    @server.tool()
    def limerick(ctx: Context) -> str | InputRequiredResult:
        """Write a limerick (asks the client's LLM in an input-required round, 2026-07-28)."""
        written = (ctx.input_responses or {}).get("write")
        if written is None:
            return InputRequiredResult(request_state="s", input_requests={
                "write": CreateMessageRequest(params=CreateMessageRequestParams(
                    messages=[_line()], max_tokens=50))})
        return f"wrote: {_text(written)}"

    return server


def _line() -> SamplingMessage:
    return SamplingMessage(role="user", content=TextContent(type="text", text="A poem, please."))


def _text(result: Any) -> str:
    if isinstance(result, CreateMessageResult) and isinstance(result.content, TextContent):
        return result.content.text
    return f"refused ({type(result).__name__})"
