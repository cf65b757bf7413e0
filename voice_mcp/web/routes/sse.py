"""Write a command's events as Server-Sent Events (docs/api.md, "Events")."""

from __future__ import annotations

from collections.abc import AsyncIterator

from aiohttp import web
from aiohttp_sse import EventSourceResponse

from voice_mcp.logs import request_id_var
from voice_mcp.services.commands import CommandEvent

RETRY_MS = 1000  # the reconnection delay suggested to EventSource clients, on the first write
SSE_HEADERS = {
    "Content-Type": "text/event-stream; charset=utf-8",
    "Cache-Control": "no-cache, no-transform",
    "X-Accel-Buffering": "no",
}


def wants_event_stream(request: web.Request) -> bool:
    """True when the client asked for SSE with its Accept header."""
    return "text/event-stream" in request.headers.get("Accept", "")


async def stream_events(request: web.Request, events: AsyncIterator[CommandEvent],
                        heartbeat_s: float) -> web.StreamResponse:
    """Send each event with the command's own sequence as its id; stop when the client leaves.

    When the client goes away, aiohttp cancels this handler (handler_cancellation) or a write
    fails; either way leaving the loop closes `events`, which only stops this reader: the
    command itself runs on, for the grace period (docs/resume.md).
    """
    response = EventSourceResponse(allow_all_methods=True, ping_interval=heartbeat_s)
    response.headers.update(SSE_HEADERS)
    response.headers["X-Request-Id"] = request_id_var.get()
    try:
        await response.prepare(request)
    except BaseException:
        await _close(events)  # a client gone already: its reader's place is given back
        raise
    retry: int | None = RETRY_MS
    try:
        async with response:
            async for event in events:
                await response.send(event.json(), id=str(event.seq), event=event.kind,
                                    retry=retry)
                retry = None
    except (ConnectionResetError, ConnectionError):
        pass
    finally:
        await _close(events)
    return response


async def _close(events: AsyncIterator[CommandEvent]) -> None:
    closer = getattr(events, "aclose", None)
    if closer is not None:
        await closer()
