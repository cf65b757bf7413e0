"""What `voice-mcp ask` shows: the live stage board, the answer panel, the approval table and
the timings. Rich is imported here only, after the command is on its way (client/ask.py)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from rich.console import Console, Group
from rich.panel import Panel
from rich.prompt import Confirm
from rich.spinner import Spinner
from rich.table import Table

from voice_mcp.client.literal import literal

ICONS = {"executed": "✔", "confirmation_required": "?", "error": "✘", "reconnecting": "↻"}
STAGES = ("transcribe", "analyze", "discover", "plan", "execute", "hold", "summarize")


def timings_table(done: dict[str, Any]) -> Table:
    """The latency breakdown of a done payload: stages (they add up), then what is inside."""
    timings: dict[str, int] = done.get("timings") or {}
    table = Table(title="Where the time went", show_lines=False)
    table.add_column("part")
    table.add_column("ms", justify="right")
    table.add_column("", style="dim")
    for stage in STAGES:
        if stage in timings:
            table.add_row(stage, literal(timings[stage]), "stage")
    for name, value in timings.items():
        if name not in STAGES and name != "firstDelta":
            note = ("time to first token" if name.endswith("FirstToken")
                    else "LLM round" if name.startswith("llm") else "tool call")
            table.add_row(literal(f"  {name}"), literal(value), note)
    if "firstDelta" in timings:
        table.add_row("firstDelta", literal(timings["firstDelta"]), "first words of the answer")
    table.add_row("total", literal(done.get("totalExecutionTime", 0)), "totalExecutionTime")
    return table


@dataclass
class StageBoard:
    """What the live display shows: one line per stage, a spinner on the newest."""

    lines: list[tuple[str, str]] = field(default_factory=list)
    answer: str = ""  # the streamed answer so far (`delta` events)
    done: bool = False

    def add(self, kind: str, message: str) -> None:
        self.lines.append((kind, message))

    def __rich__(self) -> Group:
        rows: list[Any] = []
        for i, (kind, message) in enumerate(self.lines):
            last = i == len(self.lines) - 1 and not self.done
            if last and kind != "error":
                rows.append(Spinner("dots", text=literal(message)))
            else:
                icon = ICONS.get(kind, "•")
                style = "red" if kind == "error" else "dim" if not last else ""
                rows.append(literal(f"{icon} {message}", style))
        if self.answer and not self.done:
            rows.append(literal(self.answer, "bold", keep_newlines=True))
        return Group(*rows)


def ask_approval(console: Console, confirmation: dict[str, Any], auto_approve: bool) -> bool:
    """Show the held actions exactly as they will run; y/N unless `--yes`."""
    table = Table(title="Approval needed", show_lines=False)
    for column in ("service", "tool", "arguments", "risk", "why"):
        table.add_column(column)
    for action in confirmation["actions"]:
        # Literal cells: what the user approves is exactly what will run (no markup).
        table.add_row(*(literal(action[k]) for k in ("service", "tool")),
                      literal(json.dumps(action["arguments"])),
                      *(literal(action[k]) for k in ("risk", "reason")))
    console.print(table)
    if auto_approve:
        return True
    return Confirm.ask("Run these actions?", default=False, console=console)


def show_answer(console: Console, done: dict[str, Any], show_timings: bool) -> None:
    """The answer in a panel, then what was heard, the conversation and the timings."""
    status = done.get("status", "failed")
    style = "green" if status == "completed" else "yellow"
    title = literal(f"{status} · {done.get('totalExecutionTime', 0)} ms")
    response = done.get("response") or "(no response)"
    console.print(Panel(literal(response, keep_newlines=True), title=title, border_style=style))
    if done.get("transcript"):
        console.print(literal(f"heard: {done['transcript']}", "dim"))
    if done.get("conversationId"):
        console.print(literal(f"conversation: {done['conversationId']}", "dim"))
    if show_timings:
        console.print(timings_table(done))
