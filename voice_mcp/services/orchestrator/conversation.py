"""The conversation the LLM reads: it outlives one stream, frozen by a hold, thawed on approval."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from voice_mcp.services.confirmations import PendingAction
from voice_mcp.services.history import Turn
from voice_mcp.services.llm.models import tool_result_message
from voice_mcp.services.llm.prompts import system_message
from voice_mcp.services.orchestrator.resume import LocalRecord, ResumeContext


@dataclass
class Conversation:
    """Instructions, earlier turns (when read), the request, then each round's messages.

    `with_history` is False while the earlier turns are unread: a template's answer needs
    none of them, so that Redis read waits until the LLM, or a hold, needs the whole thing.
    """

    messages: list[dict[str, Any]] = field(default_factory=list)
    rounds: int = 0  # LLM rounds so far, across a hold
    pinned: set[str] = field(default_factory=set)  # `service.tool` always offered (history)
    with_history: bool = False

    @classmethod
    def opening(cls, query: str, history: list[Turn] | None) -> Conversation:
        """A new conversation; `history=None` leaves the earlier turns unread."""
        messages = [system_message()]
        for turn in history or []:
            messages.extend(turn.as_messages())
        messages.append({"role": "user", "content": query})
        pinned = {name for turn in history or [] for name in turn.tools}
        return cls(messages, pinned=pinned, with_history=history is not None)

    @classmethod
    def resumed(cls, context: ResumeContext, actions: list[PendingAction]) -> Conversation:
        """The held conversation, with the approved actions' tools kept on offer."""
        return cls(list(context.messages), rounds=context.rounds,
                   pinned={f"{a.service}.{a.tool}" for a in actions}, with_history=True)

    def add(self, message: dict[str, Any]) -> None:
        """Append one message (an assistant turn)."""
        self.messages.append(message)

    def tool_result(self, call_id: str, text: str) -> None:
        """Answer one tool call of the last assistant turn."""
        self.messages.append(tool_result_message(call_id, text))

    def round_done(self) -> int:
        """Count one LLM round; its number (from 1)."""
        self.rounds += 1
        return self.rounds

    def frozen(self, query: str, transcript: str | None,
               local: LocalRecord | None) -> ResumeContext:
        """Everything an approval needs to carry on, as stored in the confirmation."""
        return ResumeContext(messages=self.messages, query=query, transcript=transcript,
                             rounds=self.rounds, local=local)
