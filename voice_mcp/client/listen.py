"""`voice-mcp ask --listen FILE`: a recording streamed over the listen socket in real time, as
a microphone would send it (docs/api.md, "Listen"); partial text shown as it comes."""

from __future__ import annotations

import asyncio
import shutil
import time
import wave
from collections.abc import Callable
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


async def listen(http: HttpClient, pcm: bytes, conversation: str | None, console: Console,
                 ask: Ask | None = None) -> dict[str, Any]:
    """Stream `pcm`, then `stop`; show what is heard and the command's stages; its done.
    A service's question goes to `ask` (the terminal prompt of `voice-mcp ask`)."""
    start: dict[str, Any] = {"type": "start", "sampleRate": RATE, "mode": "push-to-talk"}
    if conversation:
        start["conversationId"] = conversation
    board = StageBoard()
    # aiohttp speaks the socket (loaded only for `--listen`); client/http.py the rest.
    try:
        async with aiohttp.ClientSession(headers=http.headers) as session, \
                session.ws_connect(f"{http.base_url}/api/voice/listen") as ws:
            await ws.send_json(start)
            sender = asyncio.create_task(_send(ws, pcm))
            try:
                with Live(board, console=console, refresh_per_second=12, transient=False):
                    done = await _follow(ws, board, ask)
            finally:
                sender.cancel()
    except aiohttp.ClientConnectionError:
        raise ConfigError(f"cannot reach {http.base_url}: is `voice-mcp serve` running?"
                          ) from None
    if not console.is_terminal:
        console.line()
    return done


async def _send(ws: aiohttp.ClientWebSocketResponse, pcm: bytes) -> None:
    """Frames paced by the clock, as a microphone sends them; then `stop`."""
    begun = time.perf_counter()
    for offset in range(0, len(pcm), FRAME):
        await asyncio.sleep(max(0.0, begun + offset / (RATE * 2) - time.perf_counter()))
        await ws.send_bytes(pcm[offset:offset + FRAME])
    await ws.send_json({"type": "stop"})


async def _follow(ws: aiohttp.ClientWebSocketResponse, board: StageBoard,
                  ask: Ask | None) -> dict[str, Any]:
    command_id = ""
    while (message := await ws.receive()).type == aiohttp.WSMsgType.TEXT:
        data = message.json()
        command_id = command_id or str((data.get("data") or {}).get("commandId", ""))
        if data["type"] == "partial":
            board.answer = f"… {data['text']}"
        elif data["type"] == "transcript":
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
