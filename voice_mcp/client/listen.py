"""`voice-mcp ask --listen FILE`: a recording streamed over the listen socket in real time, as
a microphone would send it (docs/api.md, "Listen"); partial text shown as it comes."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import time
import wave
from collections.abc import AsyncGenerator, Callable
from pathlib import Path
from typing import Any

import aiohttp
from rich.console import Console
from rich.live import Live

from voice_mcp.client.display import StageBoard  # the same live display as an upload
from voice_mcp.client.http import HttpClient
from voice_mcp.client.literal import visible
from voice_mcp.config_error import ConfigError

RATE = 16_000
FRAME = RATE * 2 // 50  # 20 ms, as a browser worklet sends


async def read_pcm(path: Path) -> bytes:
    """16 kHz mono 16-bit PCM from any recording ffmpeg reads, else from a WAV already so."""
    if not await asyncio.to_thread(path.is_file):
        raise ConfigError(f"{path}: no such file")
    if shutil.which("ffmpeg"):
        process = await asyncio.create_subprocess_exec(
            "ffmpeg", "-nostdin", "-loglevel", "error", "-i", str(path), "-ar", str(RATE),
            "-ac", "1", "-f", "s16le", "pipe:1", stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL)
        out, _ = await process.communicate()
        if process.returncode == 0 and out:
            return out
    return await asyncio.to_thread(_plain_wav, path)


def _plain_wav(path: Path) -> bytes:
    try:
        with wave.open(str(path)) as reader:
            if (reader.getframerate(), reader.getnchannels(), reader.getsampwidth()) == \
                    (RATE, 1, 2):
                return bytes(reader.readframes(reader.getnframes()))
    except (wave.Error, EOFError):
        pass
    raise ConfigError(f"{path}: cannot read it; install ffmpeg, or give a 16 kHz mono 16-bit WAV")


Ask = Callable[[str, dict[str, Any]], None]  # (commandId, the `input_required` data)
MIC_WAIT_S = 3.0  # for the first audio from the recorder, before saying it cannot record


class Recording:
    """A recording sent as a microphone would send it, then `stop` (push-to-talk)."""

    mode = "push-to-talk"

    def __init__(self, pcm: bytes) -> None:
        self._pcm = pcm

    async def frames(self) -> AsyncGenerator[bytes, None]:
        """20 ms frames paced by the clock."""
        begun = time.perf_counter()
        for offset in range(0, len(self._pcm), FRAME):
            await asyncio.sleep(max(0.0, begun + offset / (RATE * 2) - time.perf_counter()))
            yield self._pcm[offset:offset + FRAME]


class Microphone:
    """The default capture device, through ALSA's `arecord` or ffmpeg; the server hears where
    the user stops (`vad` mode), and recording ends as soon as it has."""

    mode = "vad"

    def __init__(self, process: asyncio.subprocess.Process, first: bytes) -> None:
        self._process = process
        self._first = first

    @classmethod
    async def open(cls) -> Microphone:
        """Start recording; a clear error when nothing can record or no audio comes."""
        command = microphone_command()
        if command is None:
            raise ConfigError("--mic: no recorder found; install alsa-utils (arecord) or ffmpeg")
        try:
            process = await asyncio.create_subprocess_exec(
                *command, stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.DEVNULL)
        except OSError as err:
            raise ConfigError(f"--mic: cannot start {command[0]}: {err.strerror}") from None
        assert process.stdout is not None
        try:
            async with asyncio.timeout(MIC_WAIT_S):
                first = await process.stdout.read(FRAME)
        except TimeoutError:
            first = b""
        if not first:
            await _stop(process)
            raise ConfigError(f"--mic: {command[0]} gives no audio; is a microphone connected?")
        return cls(process, first)

    async def frames(self) -> AsyncGenerator[bytes, None]:
        """Frames as the device gives them, until the recorder stops or is stopped."""
        assert self._process.stdout is not None
        try:
            yield self._first
            while chunk := await self._process.stdout.read(FRAME):
                yield chunk
        finally:
            await _stop(self._process)


def microphone_command() -> list[str] | None:
    """16 kHz mono 16-bit PCM on stdout from the default device, with what is installed."""
    if shutil.which("arecord"):
        return ["arecord", "-q", "-t", "raw", "-f", "S16_LE", "-r", str(RATE), "-c", "1"]
    if shutil.which("ffmpeg"):
        return ["ffmpeg", "-nostdin", "-loglevel", "error", "-f", "alsa", "-i", "default",
                "-ar", str(RATE), "-ac", "1", "-f", "s16le", "pipe:1"]
    return None


async def _stop(process: asyncio.subprocess.Process) -> None:
    if process.returncode is None:
        with contextlib.suppress(ProcessLookupError):
            process.terminate()
        await process.wait()


Source = Recording | Microphone


async def listen(http: HttpClient, source: Source, conversation: str | None,
                 console: Console, ask: Ask | None = None) -> dict[str, Any]:
    """Stream `source`; show what is heard and the command's stages; its done.
    A service's question goes to `ask` (the terminal prompt of `voice-mcp ask`)."""
    start: dict[str, Any] = {"type": "start", "sampleRate": RATE, "mode": source.mode}
    if conversation:
        start["conversationId"] = conversation
    board = StageBoard()
    heard = asyncio.Event()
    # aiohttp speaks the socket (loaded only for `--listen`); client/http.py the rest.
    try:
        async with aiohttp.ClientSession(headers=http.headers) as session, \
                session.ws_connect(f"{http.base_url}/api/voice/listen") as ws:
            await ws.send_json(start)
            sender = asyncio.create_task(_send(ws, source, heard))
            try:
                with Live(board, console=console, refresh_per_second=12, transient=False):
                    done = await _follow(ws, board, ask, heard)
            finally:
                sender.cancel()
                await asyncio.wait([sender])
    except aiohttp.ClientConnectionError:
        raise ConfigError(f"cannot reach {http.base_url}: is `voice-mcp serve` running?"
                          ) from None
    if not console.is_terminal:
        console.line()
    return done


async def _send(ws: aiohttp.ClientWebSocketResponse, source: Source,
                heard: asyncio.Event) -> None:
    """The source's frames until it ends (then `stop`) or the server has heard the user."""
    async with contextlib.aclosing(source.frames()) as frames:
        async for frame in frames:
            if heard.is_set():
                return
            await ws.send_bytes(frame)
    if not heard.is_set():
        await ws.send_json({"type": "stop"})


async def _follow(ws: aiohttp.ClientWebSocketResponse, board: StageBoard,
                  ask: Ask | None, heard: asyncio.Event) -> dict[str, Any]:
    command_id = ""
    while (message := await ws.receive()).type == aiohttp.WSMsgType.TEXT:
        data = message.json()
        command_id = command_id or str((data.get("data") or {}).get("commandId", ""))
        if data["type"] == "partial":
            board.answer = f"… {data['text']}"
        elif data["type"] == "transcript":
            heard.set()
            board.answer = ""
            board.add("transcript", f"heard: {data['text']}")
        elif data.get("event") == "progress":
            board.add(str(data["data"]["type"]), str(data["data"].get("message", "")))
            if data["data"]["type"] == "input_required" and ask is not None and command_id:
                ask(command_id, dict(data["data"]))
        elif data.get("event") == "delta":
            board.answer += str(data["data"].get("text", ""))
        elif data.get("event") == "error":
            board.add("error", f"{data['data']['code']}: {data['data']['message']}")
        elif data.get("event") == "done":
            board.done = True
            return dict(data["data"])
    reason = message.extra if message.type == aiohttp.WSMsgType.CLOSE else message.type.name
    raise ConfigError(visible(f"the server closed the socket: {message.data} {reason}"))
