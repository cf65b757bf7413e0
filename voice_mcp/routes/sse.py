"""Write a command's events as Server-Sent Events (docs/api.md, "Events")."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

from aiohttp import web
from aiohttp_sse import EventSourceResponse

from voice_mcp.logs import request_id_var
from voice_mcp.services.orchestrator import Event

SSE_HEADERS = {
    "Content-Type": "text/event-stream; charset=utf-8",
    "Cache-Control": "no-cache, no-transform",
    "X-Accel-Buffering": "no",
}


def wants_event_stream(request: web.Request) -> bool:
    """True when the client asked for SSE with its Accept header."""
    return "text/event-stream" in request.headers.get("Accept", "")


async def stream_events(request: web.Request, events: AsyncIterator[Event],
                        heartbeat_s: float) -> web.StreamResponse:
    """Send each event with an increasing id; stop writing the moment the client leaves.

    When the client goes away, aiohttp cancels this handler (handler_cancellation) or a write
    fails; either way leaving the loop closes `events`, which cancels the command's work.
    """
    response = EventSourceResponse(allow_all_methods=True, ping_interval=heartbeat_s)
    response.headers.update(SSE_HEADERS)
    response.headers["X-Request-Id"] = request_id_var.get()
    await response.prepare(request)
    try:
        async with response:
            event_id = 0
            async for event in events:
                event_id += 1
                await response.send(json.dumps(event.wire(), separators=(",", ":")),
                                    id=str(event_id), event=event.kind)
    except (ConnectionResetError, ConnectionError):
        pass
    finally:
        closer = getattr(events, "aclose", None)
        if closer is not None:
            await closer()
    return response
