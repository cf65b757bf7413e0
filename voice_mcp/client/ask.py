"""`voice-mcp ask`: send a command, show its stages live, answer a service's questions in
the terminal, ask y/N at a confirmation."""

from __future__ import annotations

import argparse
import asyncio
import json
import mimetypes
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
from rich.console import Console, Group
from rich.live import Live
from rich.panel import Panel
from rich.prompt import Confirm
from rich.spinner import Spinner
from rich.table import Table

from voice_mcp.client import questions
from voice_mcp.client.config import ClientConfig
from voice_mcp.client.literal import literal, visible
from voice_mcp.client.sse import read_events
from voice_mcp.config_error import ConfigError

ICONS = {"executed": "✔", "confirmation_required": "?", "error": "✘", "reconnecting": "↻"}
RECONNECT_DELAYS_S = (0.5, 1.0, 2.0, 4.0, 8.0)
CUT = (aiohttp.ClientConnectionError, aiohttp.ClientPayloadError, TimeoutError)
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
class Followed:
    """Where a followed command stands: its id and last event id (to resume), its done."""

    command_id: str | None = None
    last_id: str | None = None
    done: dict[str, Any] | None = None


@dataclass(frozen=True)
class Recording:
    """An audio file read from disk, ready to upload."""

    name: str
    data: bytes

    @classmethod
    def load(cls, path: Path) -> Recording:
        """Read `path` (blocking: call it in a thread from async code)."""
        if not path.is_file():
            raise ConfigError(f"{path}: no such file")
        return cls(name=path.name, data=path.read_bytes())

    @property
    def mime(self) -> str:
        # The server recognises the format from the bytes; the declared type is only a hint.
        return mimetypes.guess_type(self.name)[0] or "application/octet-stream"


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


class AskClient:
    """Talks to a voice-mcp server for one `ask` run."""

    def __init__(self, session: aiohttp.ClientSession, base_url: str, console: Console,
                 auto_approve: bool, show_timings: bool = False) -> None:
        self.session = session
        self.base_url = base_url.rstrip("/")
        self.console = console
        self.auto_approve = auto_approve
        self.show_timings = show_timings
        self._asking: set[asyncio.Task[None]] = set()  # questions being answered

    async def send(self, query: str, audio: Recording | None, conversation: str | None) -> int:
        """Post a text command or a recording, follow its stream, and return the exit code."""
        if audio is not None:
            form = aiohttp.FormData()
            form.add_field("audio", audio.data, filename=audio.name, content_type=audio.mime)
            if conversation:
                form.add_field("conversationId", conversation)
            request = self.session.post(f"{self.base_url}/api/voice/audio/stream", data=form)
        else:
            body: dict[str, Any] = {"query": query}
            if conversation:
                body["conversationId"] = conversation
            request = self.session.post(f"{self.base_url}/api/voice/llm/stream", json=body)
        async with request as response:
            done = await self._follow(response)
        return await self._after(done)

    async def _follow(self, response: aiohttp.ClientResponse) -> dict[str, Any]:
        """Show the stream live; when the connection drops, resume it where it stopped."""
        if response.status != 200:
            error = (await response.json(content_type=None)).get("error", {})
            raise ConfigError(visible(f"{error.get('code', response.status)}:"
                                      f" {error.get('message', '')}"))
        board = StageBoard()
        state = Followed()
        with Live(board, console=self.console, refresh_per_second=12, transient=False):
            await self._consume(response, board, state)
            attempt = 0
            while state.done is None and state.command_id and attempt < len(RECONNECT_DELAYS_S):
                delay = RECONNECT_DELAYS_S[attempt]
                board.add("reconnecting", f"Connection lost; reconnecting in {delay:g} s")
                await asyncio.sleep(delay)
                seen = state.last_id
                if not await self._resume(board, state):
                    break
                attempt = 0 if state.last_id != seen else attempt + 1
        if not self.console.is_terminal:
            # Rich ends the live display's last line only on a terminal; a pipe needs it too.
            self.console.line()
        if state.done is None:
            raise ConfigError("the connection to the server was lost and the command could "
                              "not be resumed")
        return state.done

    async def _resume(self, board: StageBoard, state: Followed) -> bool:
        """Reopen the command's stream after the last event seen; False when it is gone."""
        url = f"{self.base_url}/api/voice/commands/{state.command_id}/events"
        try:
            async with self.session.get(url, headers={"Last-Event-ID": state.last_id or "0"}
                                        ) as response:
                if response.status in (404, 410):
                    board.add("error", "The command can no longer be resumed")
                    return False
                if response.status == 200:
                    board.add("reconnected", "Reconnected; picking up where it left off")
                    await self._consume(response, board, state)
        except CUT:
            pass
        return True

    async def _consume(self, response: aiohttp.ClientResponse, board: StageBoard,
                       state: Followed) -> None:
        """Show events until `done` or until the connection drops."""
        try:
            async for event in read_events(response.content.iter_any()):
                data = event.json()
                state.last_id = event.id or state.last_id
                state.command_id = state.command_id or _command_id(data)
                if event.event == "progress":
                    kind = str(data["type"])
                    board.add(kind, str(data.get("message", kind)))
                    if kind == "input_required" and state.command_id:
                        self._ask(state.command_id, data)
                elif event.event == "delta":
                    board.answer += str(data.get("text", ""))
                elif event.event == "error":
                    board.add("error", f"{data['code']}: {data['message']}")
                elif event.event == "done":
                    state.done = data
                    board.done = True
                    return
        except CUT:
            return

    def _ask(self, command_id: str, question: dict[str, Any]) -> None:
        """Answer in the terminal while the stream goes on being read."""
        task = asyncio.create_task(questions.answer(self.session, self.base_url, self.console,
                                                    command_id, question))
        self._asking.add(task)
        task.add_done_callback(self._asking.discard)

    async def _after(self, done: dict[str, Any]) -> int:
        confirmation = done.get("confirmation")
        if done.get("status") == "confirmation_required" and confirmation:
            approved = self._ask_approval(confirmation)
            async with self.session.post(
                    f"{self.base_url}/api/voice/confirm",
                    json={"confirmationId": confirmation["confirmationId"], "approved": approved},
                    headers={"Accept": "text/event-stream"}) as response:
                done = await self._follow(response)
            return await self._after(done)
        self._show_answer(done)
        return 0 if done.get("status") == "completed" else 1

    def _ask_approval(self, confirmation: dict[str, Any]) -> bool:
        table = Table(title="Approval needed", show_lines=False)
        for column in ("service", "tool", "arguments", "risk", "why"):
            table.add_column(column)
        for action in confirmation["actions"]:
            # Literal cells: what the user approves is exactly what will run (no markup).
            table.add_row(*(literal(action[k]) for k in ("service", "tool")),
                          literal(json.dumps(action["arguments"])),
                          *(literal(action[k]) for k in ("risk", "reason")))
        self.console.print(table)
        if self.auto_approve:
            return True
        return Confirm.ask("Run these actions?", default=False, console=self.console)

    def _show_answer(self, done: dict[str, Any]) -> None:
        status = done.get("status", "failed")
        style = "green" if status == "completed" else "yellow"
        title = literal(f"{status} · {done.get('totalExecutionTime', 0)} ms")
        response = done.get("response") or "(no response)"
        self.console.print(Panel(literal(response, keep_newlines=True), title=title,
                                 border_style=style))
        if done.get("transcript"):
            self.console.print(literal(f"heard: {done['transcript']}", "dim"))
        if done.get("conversationId"):
            self.console.print(literal(f"conversation: {done['conversationId']}", "dim"))
        if self.show_timings:
            self.console.print(timings_table(done))


SERVER_WAIT_S = 15.0
COMMAND_ID = re.compile(r"[A-Za-z0-9_-]{22}")  # the shape of the ids the server makes


async def wait_for_server(session: aiohttp.ClientSession, base_url: str, console: Console,
                          wait_s: float) -> None:
    """Give a server that is still starting (`make run &` just before) a few seconds."""
    said = False
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait_s
    while True:
        try:
            async with session.get(f"{base_url}/healthz",
                                   timeout=aiohttp.ClientTimeout(total=2)) as response:
                if response.status < 500:
                    return
        except (aiohttp.ClientConnectionError, TimeoutError):
            pass
        if loop.time() >= deadline:
            raise ConfigError(f"cannot reach {base_url}: is `voice-mcp serve` running?")
        if not said:
            console.print(literal(f"waiting for the server at {base_url} to start...", "dim"))
            said = True
        await asyncio.sleep(0.25)


def _command_id(data: dict[str, Any]) -> str | None:
    """The command id the first event carries, if it has the shape of one (used in a URL)."""
    value = data.get("commandId")
    return value if isinstance(value, str) and COMMAND_ID.fullmatch(value) else None


async def _run(args: argparse.Namespace, settings: ClientConfig, token: Callable[[], str],
               console: Console) -> int:
    listen_to = getattr(args, "listen", None)
    if not args.audio and not listen_to and not args.query.strip():
        raise ConfigError("say what to do: voice-mcp ask \"what time is it in Tokyo\"")
    audio = await asyncio.to_thread(Recording.load, Path(args.audio)) if args.audio else None
    headers = {"Authorization": f"Bearer {token()}"}
    timeout = aiohttp.ClientTimeout(total=None, sock_read=settings.heartbeat_s * 3 + 30)
    async with aiohttp.ClientSession(headers=headers, timeout=timeout) as session:
        client = AskClient(session, args.url or settings.public_url, console, args.yes,
                           getattr(args, "timings", False))
        await wait_for_server(session, client.base_url, console, SERVER_WAIT_S)
        try:
            if listen_to:
                return await _listen(client, Path(listen_to), args.conversation)
            return await client.send(args.query, audio, args.conversation)
        except aiohttp.ClientConnectionError:
            raise ConfigError(f"cannot reach {client.base_url}: is `voice-mcp serve` running?"
                              ) from None


async def _listen(client: AskClient, path: Path, conversation: str | None) -> int:
    """`--listen FILE`: the recording streamed over the listen socket (client/listen.py)."""
    from voice_mcp.client.listen import listen, read_pcm

    pcm = await read_pcm(path)
    done = await listen(client.session, client.base_url, pcm, conversation, client.console,
                        client._ask)  # a service's question: answered in the terminal
    return await client._after(done)


def run_ask(args: argparse.Namespace, settings: ClientConfig, token: Callable[[], str]) -> int:
    """Entry point of `voice-mcp ask`; `token` gives the bearer token once it is needed."""
    return asyncio.run(_run(args, settings, token, Console()))
