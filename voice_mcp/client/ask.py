"""`voice-mcp ask`: send a command, show its stages live, answer a service's questions in
the terminal, ask y/N at a confirmation."""

from __future__ import annotations

import argparse
import asyncio
import mimetypes
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from voice_mcp.client.config import ClientConfig
from voice_mcp.client.http import ConnectionLost, Form, HttpClient, Response, Unreachable, json_body
from voice_mcp.client.literal import visible
from voice_mcp.client.sse import read_events
from voice_mcp.config_error import ConfigError

if TYPE_CHECKING:
    from rich.console import Console

    from voice_mcp.client.display import StageBoard

RECONNECT_DELAYS_S = (0.5, 1.0, 2.0, 4.0, 8.0)
CUT = (ConnectionLost, Unreachable)


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


def error_text(body: Any, status: int) -> str:
    """`code: message` of an error body (docs/api.md, "Errors"), shown literally."""
    error = body.get("error") if isinstance(body, dict) else None
    error = error if isinstance(error, dict) else {}
    return visible(f"{error.get('code', status)}: {error.get('message', '')}")


class AskClient:
    """Talks to a voice-mcp server for one `ask` run."""

    def __init__(self, http: HttpClient, console: Console | None, auto_approve: bool,
                 show_timings: bool = False) -> None:
        self.http = http
        self._console = console
        self.auto_approve = auto_approve
        self.show_timings = show_timings
        self._asking: set[asyncio.Task[None]] = set()  # questions being answered

    @property
    def console(self) -> Console:
        """The terminal, made on first use: Rich loads once the command is on its way."""
        if self._console is None:
            from rich.console import Console

            self._console = Console()
        return self._console

    async def send(self, query: str, audio: Recording | None, conversation: str | None) -> int:
        """Post a text command or a recording, follow its stream, and return the exit code."""
        if audio is not None:
            fields = {"conversationId": conversation} if conversation else {}
            body, content_type = Form(fields, ("audio", audio.name, audio.data, audio.mime)
                                      ).encode()
            request = self.http.request("POST", "/api/voice/audio/stream", body=body,
                                        content_type=content_type)
        else:
            command = {"query": query} | ({"conversationId": conversation} if conversation
                                           else {})
            request = self.http.request("POST", "/api/voice/llm/stream", **json_body(command))
        async with request as response:
            done = await self._follow(response)
        return await self._after(done)

    async def _follow(self, response: Response) -> dict[str, Any]:
        """Show the stream live; when the connection drops, resume it where it stopped."""
        if response.status != 200:
            raise ConfigError(error_text(await response.json(), response.status))
        from rich.live import Live

        from voice_mcp.client.display import StageBoard

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
        path = f"/api/voice/commands/{state.command_id}/events"
        try:
            async with self.http.request("GET", path,
                                         headers={"Last-Event-ID": state.last_id or "0"}
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

    async def _consume(self, response: Response, board: StageBoard, state: Followed) -> None:
        """Show events until `done` or until the connection drops."""
        try:
            async for event in read_events(response.chunks()):
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
        from voice_mcp.client import questions

        task = asyncio.create_task(questions.answer(self.http, self.console, command_id,
                                                    question))
        self._asking.add(task)
        task.add_done_callback(self._asking.discard)

    async def _after(self, done: dict[str, Any]) -> int:
        from voice_mcp.client.display import ask_approval, show_answer

        confirmation = done.get("confirmation")
        if done.get("status") == "confirmation_required" and confirmation:
            approved = ask_approval(self.console, confirmation, self.auto_approve)
            decision = {"confirmationId": confirmation["confirmationId"], "approved": approved}
            async with self.http.request("POST", "/api/voice/confirm", **json_body(decision),
                                         headers={"Accept": "text/event-stream"}) as response:
                done = await self._follow(response)
            return await self._after(done)
        show_answer(self.console, done, self.show_timings)
        return 0 if done.get("status") == "completed" else 1


SERVER_WAIT_S = 15.0
HEALTH_TIMEOUT_S = 2.0
COMMAND_ID = re.compile(r"[A-Za-z0-9_-]{22}")  # the shape of the ids the server makes


async def wait_for_server(http: HttpClient, say: Callable[[str], None], wait_s: float) -> None:
    """Give a server that is still starting (`make run &` just before) a few seconds."""
    said = False
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait_s
    while True:
        try:
            async with asyncio.timeout(HEALTH_TIMEOUT_S), \
                    http.request("GET", "/healthz") as response:
                if response.status < 500:
                    return
        except (*CUT, TimeoutError):
            pass
        if loop.time() >= deadline:
            raise ConfigError(f"cannot reach {http.base_url}: is `voice-mcp serve` running?")
        if not said:
            say(f"waiting for the server at {http.base_url} to start...")
            said = True
        await asyncio.sleep(0.25)


def _command_id(data: dict[str, Any]) -> str | None:
    """The command id the first event carries, if it has the shape of one (used in a URL)."""
    value = data.get("commandId")
    return value if isinstance(value, str) and COMMAND_ID.fullmatch(value) else None


async def _run(args: argparse.Namespace, settings: ClientConfig, token: Callable[[], str]
               ) -> int:
    listen_to = getattr(args, "listen", None)
    mic = getattr(args, "mic", False)
    if not args.audio and not listen_to and not mic and not args.query.strip():
        raise ConfigError("say what to do: voice-mcp ask \"what time is it in Tokyo\"")
    audio = await asyncio.to_thread(Recording.load, Path(args.audio)) if args.audio else None
    http = HttpClient((args.url or settings.public_url).rstrip("/"),
                      {"Authorization": f"Bearer {token()}"},
                      read_timeout_s=settings.heartbeat_s * 3 + 30)
    client = AskClient(http, None, args.yes, getattr(args, "timings", False))
    await wait_for_server(http, lambda line: client.console.print(visible(line), style="dim",
                                                                  markup=False), SERVER_WAIT_S)
    try:
        if listen_to or mic:
            return await _listen(client, Path(listen_to) if listen_to else None,
                                 args.conversation)
        return await client.send(args.query, audio, args.conversation)
    except Unreachable:
        raise ConfigError(f"cannot reach {http.base_url}: is `voice-mcp serve` running?"
                          ) from None


async def _listen(client: AskClient, path: Path | None, conversation: str | None) -> int:
    """`--listen FILE` or `--mic`: speech streamed over the listen socket (client/listen.py)."""
    from voice_mcp.client.listen import Microphone, Recording, listen, read_pcm

    source = Recording(await read_pcm(path)) if path else await Microphone.open()
    done = await listen(client.http, source, conversation, client.console,
                        client._ask)  # a service's question: answered in the terminal
    return await client._after(done)


def run_ask(args: argparse.Namespace, settings: ClientConfig, token: Callable[[], str]) -> int:
    """Entry point of `voice-mcp ask`; `token` gives the bearer token once it is needed."""
    return asyncio.run(_run(args, settings, token))
