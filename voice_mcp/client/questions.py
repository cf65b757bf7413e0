"""`voice-mcp ask` answers a service's question in the terminal (docs/api.md, "Services that
ask"): the question and its fields are shown, the typed words go back as the answer, and a
`422` (something missing or invalid) asks again."""

from __future__ import annotations

import asyncio
from typing import Any

from rich.console import Console
from rich.prompt import Prompt

from voice_mcp.client.http import HttpClient, json_body
from voice_mcp.client.literal import literal

TRIES = 3


def describe(question: dict[str, Any]) -> list[str]:
    """The question as lines: the service's words, then each field or the page to visit."""
    lines = [str(question.get("message", ""))]
    if question.get("mode") == "url":
        lines.append(f"  open {question.get('url', '')} and press Enter when done ('no' to"
                     " decline)")
    for field in question.get("fields") or []:
        shown = field.get("enumTitles") or field.get("enum")
        kind = " / ".join(map(str, shown)) if shown else field.get("type", "string")
        extra = f", default {field['default']}" if "default" in field else ""
        need = "" if field.get("required") else " (optional)"
        lines.append(f"  {field.get('title') or field['name']}: {kind}{extra}{need}")
    return lines


def _body(question: dict[str, Any], words: str) -> dict[str, Any]:
    if words:
        return {"inputId": question["inputId"], "answer": words}
    # Nothing typed: accept (a URL question: done on the page; a form: its defaults).
    return {"inputId": question["inputId"], "action": "accept", "content": {}}


async def answer(http: HttpClient, console: Console, command_id: str,
                 question: dict[str, Any]) -> None:
    """Prompt until the server takes an answer (202), or the question is gone."""
    for line in describe(question):
        console.print(literal(line))
    path = f"/api/voice/commands/{command_id}/input"
    for _ in range(TRIES):
        try:
            words = await asyncio.to_thread(Prompt.ask, "Your answer", console=console,
                                            default="", show_default=False)
        except EOFError:
            return
        async with http.request("POST", path, **json_body(_body(question, words.strip()))
                                ) as response:
            if response.status != 422:
                return
            body = await response.json()
            error = body.get("error") if isinstance(body, dict) else None
            message = error.get("message") if isinstance(error, dict) else None
            console.print(literal(str(message or "That did not fit.")))
