"""Real `voice-mcp serve` processes on one test Redis (that a test may restart), with the
fake OpenAI server on a loop of its own, for the tests that span instances (section 11)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from tests.fakes.openai_server import OpenAIServer
from tests.mcp_servers.runner import RunningServer
from tests.sse import parse
from voice_mcp.services.store import free_port

ROOT = Path(__file__).resolve().parents[1]


class RestartableRedis:
    """A redis-server without persistence on a fixed port, so a test can restart it."""

    def __init__(self) -> None:
        self.port = free_port()
        self.workdir = tempfile.mkdtemp(prefix="voice-mcp-cluster-redis-")
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        binary = shutil.which("redis-server") or "redis-server"
        self.process = subprocess.Popen(
            [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", self.workdir, "--loglevel", "warning"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)
        self.process = None


class ThreadedOpenAI:
    """The fake OpenAI server on its own loop in a thread, answering with `responder`."""

    def __init__(self, responder: Any) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.server: OpenAIServer = asyncio.run_coroutine_threadsafe(
            self._start(responder), self.loop).result(10)

    async def _start(self, responder: Any) -> OpenAIServer:
        server = OpenAIServer()
        server.responder = responder
        return await server.start()

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self.server.stop(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


@dataclass
class Instance:
    """One `voice-mcp serve` process."""

    env: dict[str, str]
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Instance:
        env = {**self.env, "VOICE_MCP_PORT": str(self.port)}
        self.process = subprocess.Popen([sys.executable, "-m", "voice_mcp", "serve"], cwd=ROOT,
                                        env=env, stdout=subprocess.DEVNULL,
                                        stderr=subprocess.DEVNULL)
        return self

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.kill()


def server_env(redis_url: str, llm_url: str, catalog: Path, secret: str,
               **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VOICE_MCP_")}
    env.update(VOICE_MCP_REDIS_URL=redis_url, VOICE_MCP_JWT_SECRET=secret,
               VOICE_MCP_LLM_BASE_URL=llm_url, OPENAI_API_KEY="sk-test",
               VOICE_MCP_SERVICES_FILE=str(catalog), VOICE_MCP_LLM_MAX_RETRIES="0",
               VOICE_MCP_LOG_LEVEL="WARNING", **extra)
    return env


@contextlib.contextmanager
def two_instances(redis_url: str, workdir: Path, responder: Any, secret: str,
                  services: str = "", **extra: str) -> Iterator[dict[str, Any]]:
    """The fake LLM, the notes server over HTTP, and two server processes on one Redis;
    `services`: more catalog entries (TOML) for servers the caller runs."""
    llm = ThreadedOpenAI(responder)
    notes = RunningServer("streamable-http").start()
    catalog = workdir / "services.toml"
    catalog.write_text(f'[services.notes]\ntitle = "Notes"\ntransport = "streamable-http"\n'
                       f'url = "{notes.url}"\n{services}')
    env = server_env(redis_url, llm.server.base_url, catalog, secret, **extra)
    instances = [Instance(env).start(), Instance(env).start()]
    try:
        yield {"notes": notes, "env": env, "a": instances[0], "b": instances[1],
               "catalog": catalog, "llm": llm.server}
    finally:
        for instance in instances:
            instance.stop()
        notes.stop()
        llm.stop()


async def wait_ready(session: aiohttp.ClientSession, base: str) -> None:
    """Poll /readyz until it answers 200 (the caller bounds the wait)."""
    while True:
        try:
            async with session.get(f"{base}/readyz") as resp:
                if resp.status == 200:
                    return
        except aiohttp.ClientConnectionError:
            pass
        await asyncio.sleep(0.1)


async def events_of(resp: aiohttp.ClientResponse) -> AsyncIterator[tuple[int, str, dict[str, Any]]]:
    """The events of an open SSE response as they arrive: (id, event, data)."""
    assert resp.status == 200, await resp.text()
    while True:
        try:
            block = await resp.content.readuntil(b"\r\n\r\n")
        except asyncio.IncompleteReadError:
            return
        if not block.endswith(b"\r\n\r\n"):  # aiohttp answers what is left at the end
            return
        for event_id, kind, data in parse(block.decode()).events:
            yield int(event_id), kind, data


async def read_until(events: AsyncIterator[tuple[int, str, dict[str, Any]]],
                     stop: Any) -> list[tuple[int, str, dict[str, Any]]]:
    """Collect events until one satisfies `stop(kind, data)` (included)."""
    seen = []
    async for event in events:
        seen.append(event)
        if stop(event[1], event[2]):
            return seen
    return seen


class CuttableProxy:
    """A loopback TCP proxy to `port` whose open connections a test can cut (a lost network);
    new connections go through again afterwards."""

    def __init__(self, port: int) -> None:
        self.target = port
        self.port = 0
        self.server: asyncio.Server | None = None
        self.writers: set[asyncio.StreamWriter] = set()
        self.sent_down = bytearray()  # everything passed on to clients, to wait for

    async def start(self) -> CuttableProxy:
        self.server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]
        return self

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target)
        self.writers |= {writer, up_writer}
        await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer, self.sent_down),
                             return_exceptions=True)

    async def wait_sent(self, needle: bytes, timeout: float = 20) -> None:
        """Until `needle` has been passed on to a client (then a cut cannot come before it)."""
        async with asyncio.timeout(timeout):
            while needle not in self.sent_down:
                await asyncio.sleep(0.01)

    def cut(self) -> None:
        for writer in self.writers:
            writer.transport.abort()
        self.writers.clear()

    async def stop(self) -> None:
        self.cut()
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                tee: bytearray | None = None) -> None:
    try:
        while chunk := await reader.read(65536):
            writer.write(chunk)
            await writer.drain()
            if tee is not None:
                tee += chunk
    finally:
        writer.transport.abort()
