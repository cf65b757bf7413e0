"""A 2026-07-28 MCP server whose tool asks the client something first (an input-required
result, then the retry with the answer and the echoed state); for tests of the rounds."""

from __future__ import annotations

from mcp.server.mcpserver import Context, MCPServer
from mcp.types import ElicitRequest, ElicitRequestFormParams, ElicitResult, InputRequiredResult

from tests.mcp_servers.notes_server import ServerKnobs, ServerStats

STATE = '{"step": 1, "opaque": "keep me exactly"}'


def build_asking_server(stats: ServerStats, knobs: ServerKnobs) -> MCPServer:
    """`book_table` asks to confirm, once; its result tells what the client answered."""
    server = MCPServer("asking", log_level="WARNING")

    @server.tool()
    def book_table(ctx: Context) -> str | InputRequiredResult:
        """Book a table, after the user confirms."""
        stats.record(lambda s: s.tool_calls.update(["book_table"]))
        answers = ctx.input_responses
        if not answers:
            return InputRequiredResult(request_state=STATE, input_requests={
                "confirm": ElicitRequest(params=ElicitRequestFormParams(
                    message="Book the table for 8?",
                    requested_schema={"type": "object", "properties": {
                        "ok": {"type": "boolean"}}}))})
        answer = answers.get("confirm")
        action = answer.action if isinstance(answer, ElicitResult) else "none"
        echoed = "state echoed" if ctx.request_state == STATE else "state lost"
        return f"answer: {action}; {echoed}"

    return server
