"""A command running on this instance: its events in memory, its readers here, its task."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

from voice_mcp.services import tracing
from voice_mcp.services.commands.models import CommandEvent, CommandInfo
from voice_mcp.services.commands.recorder import Recorder


class RunningCommand:
    """The live side of one command; readers on this instance never wait on Redis."""

    def __init__(self, command_id: str, info: CommandInfo, recorder: Recorder) -> None:
        self.id = command_id
        self.info = info
        self.recorder = recorder
        self.events: list[CommandEvent] = []
        self.task: asyncio.Task[None] | None = None
        self.readers = 0
        self.idle_since: float | None = None  # monotonic time the last local reader left
        self.started = time.perf_counter()
        self.trace: dict[str, str] = {}  # its W3C trace context, when traces are on
        self._changed = asyncio.Event()

    @property
    def done(self) -> bool:
        return bool(self.events) and self.events[-1].kind == "done"

    def publish(self, kind: str, data: dict[str, Any]) -> None:
        """Number the event, stamp the command id on the first and the last, hand it out."""
        if self.done:
            return
        seq = len(self.events) + 1
        if seq == 1 or kind == "done":
            data = {**data, "commandId": self.id}
        tracing.observe(kind, data)
        event = CommandEvent(seq, kind, data)
        self.events.append(event)
        self.recorder.append(event)
        self._changed.set()
        self._changed = asyncio.Event()

    async def follow(self, after: int) -> AsyncIterator[CommandEvent]:
        """The events after `after`, then the live ones, until the done event."""
        index = after
        while True:
            changed = self._changed
            while index < len(self.events):
                event = self.events[index]
                index += 1
                yield event
                if event.kind == "done":
                    return
            await changed.wait()

    def cancel(self) -> None:
        """Stop the command's work; its driver then ends it `cancelled`."""
        if self.task is not None and not self.task.done():
            self.task.cancel()

    def elapsed_ms(self) -> int:
        return round((time.perf_counter() - self.started) * 1000)
