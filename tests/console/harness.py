"""The world a browser test drives: the real app (behind a proxy that can cut connections),
the fake OpenAI server, real MCP servers and the test OAuth servers, all in one background
event loop, so that Selenium's blocking calls never stall the servers."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import socket
import subprocess
import threading
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pytest
from cryptography.fernet import Fernet

from tests.conftest import JWT_SECRET
from tests.fakes.openai_server import OpenAIServer
from tests.fixtures.mcp_servers import make_catalog, notes_stdio
from tests.fixtures.openai_server import settings_for
from tests.mcp_servers.question_server import build_question_server
from tests.mcp_servers.runner import RunningServer
from tests.oauth_server import OAuthServers, run_oauth_servers
from tests.oauth_server.runner import base_url, listening_socket, serve_aiohttp
from voice_mcp.services.auth import issue_dev_token
from voice_mcp.services.catalog import ServiceConfig
from voice_mcp.settings import Settings
from voice_mcp.web.app import create_app

T = TypeVar("T")
CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")


def browser_missing() -> str | None:
    """Why no browser test can run here, or None."""
    if CHROMIUM.exists() and CHROMEDRIVER.exists():
        return None
    return ("chromium and chromium-driver are not installed"
            " (apt-get install chromium chromium-driver)")


def must_run_here() -> bool:
    """As root (CI), `make test` installs the browser: a missing one is a failure, not a skip."""
    return os.geteuid() == 0


class BackgroundLoop:
    """An event loop in a thread; `run(coro)` waits for a coroutine from test code."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="console-servers",
                                       daemon=True)
        self.thread.start()

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = 60) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def call(self, fn: Callable[[], T]) -> T:
        """Run a plain function on the loop's thread (the servers' state is not thread-safe)."""

        async def wrapped() -> T:
            return fn()

        return self.run(wrapped())

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


class CuttableProxy:
    """A TCP proxy in front of the app; `cut()` drops every open connection at once,
    as a flaky network would, while the app keeps running. With `refuse_websockets`, it
    answers a WebSocket handshake 400 itself, as a proxy that does not forward upgrades."""

    def __init__(self, sock: socket.socket, target: tuple[str, int]) -> None:
        self.sock = sock
        self.target = target
        self.open: set[asyncio.StreamWriter] = set()
        self.cuts = 0
        self.refuse_websockets = False
        self._server: asyncio.Server | None = None

    async def __aenter__(self) -> CuttableProxy:
        self._server = await asyncio.start_server(self._handle, sock=self.sock)
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        self.cut()
        await self._server.wait_closed()

    def cut(self) -> int:
        """Abort every connection now; the number cut."""
        writers = list(self.open)
        for writer in writers:
            writer.transport.abort()
        self.open.clear()
        self.cuts += 1
        return len(writers)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        first = await reader.read(65536)  # a request's head arrives in one piece on loopback
        if self.refuse_websockets and b"upgrade: websocket" in first.lower():
            writer.write(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n"
                         b"Connection: close\r\n\r\n")
            await writer.drain()
            writer.close()
            return
        up_reader, up_writer = await asyncio.open_connection(*self.target)
        up_writer.write(first)
        self.open.update((writer, up_writer))
        await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))
        self.open.difference_update((writer, up_writer))


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        writer.transport.abort() if writer.transport.is_closing() else writer.close()


@dataclass
class Stack:
    """Everything a browser test talks to; `url` is the console's address (through the proxy)."""

    url: str
    settings: Settings
    openai: OpenAIServer
    oauth: OAuthServers
    proxy: CuttableProxy
    exit: contextlib.AsyncExitStack

    def token(self, user: str = "alice", ttl_s: int = 3600) -> str:
        return issue_dev_token(self.settings, user, ttl_s)


def time_service() -> ServiceConfig:
    return ServiceConfig(id="time", title="Time", transport="stdio",
                         command=["python", "-m", "mcp_server_time", "--local-timezone", "UTC"])


async def start_stack(redis_url: str, **settings_overrides: Any) -> Stack:
    """Start the servers; the caller closes `stack.exit` (on the same loop).
    `settings_overrides` change the app's settings (offline speech, templates...)."""
    exit_stack = contextlib.AsyncExitStack()
    try:
        openai = await exit_stack.enter_async_context(OpenAIServer())
        oauth = await exit_stack.enter_async_context(run_oauth_servers())
        proxy_sock, app_sock = listening_socket(), listening_socket()
        url = base_url(proxy_sock)
        settings = settings_for(openai, redis_url=redis_url, jwt_secret=JWT_SECRET,
                                llm_max_retries=0, token_key=Fernet.generate_key().decode(),
                                public_url=url, discovery_timeout_s=20, llm_stream=True,
                                **settings_overrides)
        questions = RunningServer("streamable-http", build=build_question_server).start()
        exit_stack.callback(questions.stop)
        catalog = make_catalog(notes_stdio(examples=["List my notes"]), time_service(),
                               oauth.service("secure_notes", title="Secure notes"),
                               questions.service("questions", title="Pizza Place",
                                                 risk={"order_pizza": "low", "pay": "low",
                                                       "deliver": "low", "book_table": "low"}))
        await exit_stack.enter_async_context(
            serve_aiohttp(create_app(settings, catalog=catalog), app_sock))
        proxy = await exit_stack.enter_async_context(
            CuttableProxy(proxy_sock, app_sock.getsockname()[:2]))
    except BaseException:
        await exit_stack.aclose()
        raise
    return Stack(url, settings, openai, oauth, proxy, exit_stack)


class Gate:
    """An LLM answer held until the test opens the gate (lives on the background loop)."""

    def __init__(self, loop: BackgroundLoop, answer: Any) -> None:
        self.loop = loop
        self.answer = answer
        self.event = loop.call(asyncio.Event)
        self.arrived = loop.call(asyncio.Event)

    async def __call__(self, _body: dict[str, Any]) -> Any:
        self.arrived.set()
        await self.event.wait()
        return self.answer

    def wait_arrived(self, timeout: float = 30) -> None:
        async def wait() -> None:
            async with asyncio.timeout(timeout):
                await self.arrived.wait()

        self.loop.run(wait(), timeout + 5)

    def open(self) -> None:
        self.loop.loop.call_soon_threadsafe(self.event.set)


def fake_mic_wav(folder: Path, spoken: str, before_s: float, after_s: float) -> Path:
    """`spoken` said by espeak-ng as Chromium's fake microphone plays it (48 kHz 16-bit
    mono) with `before_s` / `after_s` of silence around it; skips without espeak-ng or sox."""
    if shutil.which("espeak-ng") is None or shutil.which("sox") is None:
        pytest.skip("espeak-ng and sox are needed for the fake microphone")
    raw, wav = folder / "raw.wav", folder / "spoken.wav"
    subprocess.run(["espeak-ng", "-w", str(raw), spoken], check=True, capture_output=True)
    subprocess.run(["sox", str(raw), "-r", "48000", "-b", "16", "-c", "1", str(wav), "pad",
                    str(before_s), str(after_s)], check=True, capture_output=True)
    return wav
