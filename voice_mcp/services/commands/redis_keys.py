"""Where a command lives in Redis. All its keys share one hash tag, so one Lua script may
touch them all (on a cluster too)."""

from __future__ import annotations

from dataclasses import dataclass

PREFIX = "voice-mcp:command:"
CANCEL_CHANNEL = "voice-mcp:commands:cancel:"
INPUT_CHANNEL = "voice-mcp:commands:input:"


@dataclass(frozen=True)
class CommandKeys:
    """The keys of one command: its record, its event stream, its lease, its remote readers."""

    meta: str
    events: str
    lease: str
    readers: str
    tombstone: str

    @classmethod
    def of(cls, command_id: str) -> CommandKeys:
        base = f"{PREFIX}{{{command_id}}}"
        return cls(meta=f"{base}:meta", events=f"{base}:events", lease=f"{base}:lease",
                   readers=f"{base}:readers", tombstone=f"{base}:tomb")


def cancel_channel(instance_id: str) -> str:
    """The pub/sub channel on which an instance hears cancels of the commands it runs."""
    return f"{CANCEL_CHANNEL}{instance_id}"


def input_channel(instance_id: str) -> str:
    """The pub/sub channel on which an instance hears answers to its commands' questions."""
    return f"{INPUT_CHANNEL}{instance_id}"
