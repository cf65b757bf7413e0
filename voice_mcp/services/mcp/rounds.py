"""Multi-round-trip tool calls (MCP 2026-07-28; docs/api.md, "Services that ask").

A 2026-07-28 server may answer `tools/call` with an input-required result instead of the tool's
result: questions for the client (elicitation, roots, sampling) and an opaque `requestState`.
The client answers and calls again with the responses and the state echoed byte for byte,
each round a new JSON-RPC request. The loop is the SDK's own driver; the answers come from an
`InputAnswerer`, the extension point where the user-facing side plugs in. Until it does, the
default declines every question, lists no roots and refuses sampling, so a tool that can go
on without the answer still finishes.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import mcp.types as types
from mcp import Client
from mcp.client._input_required import run_input_required_driver
from mcp.shared.dispatcher import ProgressFnT
from pydantic import TypeAdapter

Answer = types.InputResponse | types.ErrorData
InputAnswerer = Callable[[str, types.InputRequest], Awaitable[Answer]]
"""Answer one embedded input request (key, request); an ErrorData refuses the whole call."""

MAX_ROUNDS = 10  # the SDK's default cap; past it the call fails

# A result with no `resultType` is complete (the spec's default), never an input request.
_RESULT = TypeAdapter(types.CallToolResult | types.InputRequiredResult)


async def decline(key: str, request: types.InputRequest) -> Answer:
    """The default answerer: decline questions, no roots, no sampling (docs/api.md)."""
    if isinstance(request, types.ElicitRequest):
        return types.ElicitResult(action="decline")
    if isinstance(request, types.ListRootsRequest):
        return types.ListRootsResult(roots=[])
    return types.ErrorData(code=types.INVALID_REQUEST, message="Sampling is not supported.")


async def call_tool(client: Client, name: str, arguments: dict[str, Any],
                    on_progress: ProgressFnT | None,
                    answer: InputAnswerer = decline) -> types.CallToolResult:
    """Call a tool, answering input-required rounds until the tool's own result arrives.

    Sent as plain requests: the SDK's `call_tool` would list the tools on every new session to
    check output schemas, undoing the cached listing.
    """
    async def send(responses: types.InputResponses | None,
                   state: str | None) -> types.CallToolResult | types.InputRequiredResult:
        request = types.CallToolRequest(params=types.CallToolRequestParams(
            name=name, arguments=arguments, input_responses=responses, request_state=state))
        return await client.session.send_request(request, _RESULT,
                                                 progress_callback=on_progress)

    first = await send(None, None)
    if not isinstance(first, types.InputRequiredResult):
        return first
    result: types.CallToolResult = await run_input_required_driver(
        first, dispatch=answer, retry=send, max_rounds=MAX_ROUNDS)
    return result
