"""A tool call's questions for its user: elicitation requests (2025-11-25), input-required
rounds (2026-07-28) and the URL-elicitation-required error (-32042), one way to the user.

The MCP layer only knows the `Asker` a call brings; without one, questions are declined.
"""

from __future__ import annotations

import asyncio
from typing import Any, Protocol

import mcp.types as types
from mcp import Client
from mcp.shared.dispatcher import ProgressFnT
from mcp.shared.exceptions import MCPError, UrlElicitationRequiredError

from voice_mcp.services.mcp.rounds import Answer, InputAnswerer, call_tool, decline


class Asker(Protocol):
    """Asks the user of one tool call; `clocks` are the call's deadlines, paused meanwhile."""

    clocks: list[asyncio.Timeout]

    async def elicit(self, params: types.ElicitRequestParams) -> types.ElicitResult: ...

    async def sample(self, params: types.CreateMessageRequestParams
                     ) -> types.CreateMessageResult | types.ErrorData: ...

    def completed(self, elicitation_id: str) -> None:
        """The server says a URL question was done out of band (the user need not answer)."""


def answerer(asker: Asker | None) -> InputAnswerer:
    """Input-required rounds: questions go to the user, sampling to the asker (which refuses
    it unless the service may sample); roots are empty."""
    async def answer(key: str, request: types.InputRequest) -> Answer:
        if asker is not None and isinstance(request, types.ElicitRequest):
            return await asker.elicit(request.params)
        if asker is not None and isinstance(request, types.CreateMessageRequest):
            return await asker.sample(request.params)
        return await decline(key, request)

    return answer


async def call_asking(client: Client, name: str, arguments: dict[str, Any],
                      on_progress: ProgressFnT | None, asker: Asker | None) -> types.CallToolResult:
    """Call a tool; a -32042 refusal asks the user to visit each URL, then calls once more."""
    answer = answerer(asker)
    try:
        return await call_tool(client, name, arguments, on_progress, answer)
    except MCPError as err:
        if asker is None or err.error.code != types.URL_ELICITATION_REQUIRED:
            raise
        for params in UrlElicitationRequiredError.from_error(err.error).elicitations:
            if (await asker.elicit(params)).action != "accept":
                raise
    return await call_tool(client, name, arguments, on_progress, answer)
