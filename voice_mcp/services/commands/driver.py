"""Run a command's event stream as a task of its own, so it outlives any one connection."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from typing import Any, Protocol

from voice_mcp.services.commands.models import CANCELLED_MESSAGE, ended_payload
from voice_mcp.services.commands.running import RunningCommand
from voice_mcp.services.orchestrator.payload import ErrorView, Status

log = logging.getLogger(__name__)
FAILED_MESSAGE = "Something went wrong on our side."


class WireEvent(Protocol):
    """What the orchestrator yields: a kind (the SSE event name) and its JSON data."""

    @property
    def kind(self) -> str: ...

    def wire(self) -> dict[str, Any]: ...


async def drive(running: RunningCommand, events: AsyncIterator[WireEvent]) -> None:
    """Publish every event; a cancel (stop, grace expiry, shutdown) ends it `cancelled`.

    Cancelling this task cancels the orchestrator's stream, which cancels the LLM request and
    the tool calls in flight; only then is the `cancelled` done published.
    """
    try:
        async for event in events:
            running.publish(event.kind, event.wire())
    except asyncio.CancelledError:
        task = asyncio.current_task()
        if task is not None:
            task.uncancel()
        running.publish("done", ended_payload(running.info, running.id, Status.CANCELLED,
                                              CANCELLED_MESSAGE,
                                              elapsed_ms=running.elapsed_ms()))
    except Exception:
        log.exception("command stream failed")
        error = ErrorView(code="internal_error", message=FAILED_MESSAGE)
        running.publish("error", error.model_dump(mode="json"))
        running.publish("done", ended_payload(running.info, running.id, Status.FAILED,
                                              FAILED_MESSAGE, error, running.elapsed_ms()))
    finally:
        closer = getattr(events, "aclose", None)
        if closer is not None:
            await closer()
