"""deploy/nginx.conf in front of the real app: each event passes nginx as soon as it is sent.

No clock is read: the LLM is held on gates the test controls, and each event is read
through nginx while the next gate is still closed, which a buffering proxy could not do.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from tests.conftest import JWT_SECRET
from tests.fakes.openai_server import OpenAIServer, call, pieces, text
from tests.fixtures.mcp_servers import make_catalog, notes_stdio
from tests.fixtures.openai_server import settings_for
from tests.sse import parse
from voice_mcp.services.store import free_port
from voice_mcp.web.app import create_app

ROOT = Path(__file__).resolve().parents[1]
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
pytestmark = pytest.mark.skipif(
    not os.path.exists(NGINX), reason="nginx not installed (scripts/install-system-deps.sh --test)")
MAIN = """daemon off;
master_process on;
worker_processes 1;
{user}
pid {tmp}/nginx.pid;
error_log {tmp}/error.log info;
events {{ worker_connections 64; }}
http {{
    access_log off;
    client_body_temp_path {tmp}/body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
{site}
}}
"""


# A proxy that would hold events back: response buffering on and gzip for event streams
# (gzip keeps small writes until its buffer fills unless the response is unbuffered).
HOLDING = ("proxy_buffering on; gzip on; gzip_types text/event-stream; gzip_min_length 1; "
           "gzip_proxied any;")
VARIANTS = {
    "as-shipped": None,
    # Only the app's X-Accel-Buffering: no (honoured by nginx) keeps events flowing. With
    # `proxy_ignore_headers X-Accel-Buffering;` added, this test fails: the tool's events stay
    # in nginx while the second LLM round is held (checked by hand; not a test, because how
    # much a holding nginx lets through first varies).
    "buffering-on": HOLDING,
}


def site_config(app_port: int, listen_port: int, variant: str, *,
                streams: int | None = None) -> str:
    """The shipped file with the test's ports, and the variant's directives if any;
    `streams`: the per-client cap on API requests in flight, lowered for a test."""
    site = (ROOT / "deploy" / "nginx.conf").read_text()
    if streams is not None:
        site, caps = re.subn(r"limit_conn voice_mcp_streams \d+;",
                             f"limit_conn voice_mcp_streams {streams};", site)
        assert caps == 2, "deploy/nginx.conf changed shape"  # the API and the listen socket
    site, upstreams = re.subn(r"^(\s*)server 127\.0\.0\.1:8080\b",
                              rf"\1server 127.0.0.1:{app_port}", site, flags=re.M)
    site, listens = re.subn(r"^(\s*)listen 80;", rf"\1listen 127.0.0.1:{listen_port};", site,
                            flags=re.M)
    assert upstreams == 1 and listens == 1, "deploy/nginx.conf changed shape"
    if VARIANTS[variant] is not None:
        site = site.replace("gzip off;", "")
        site, flips = re.subn(r"proxy_buffering off;", str(VARIANTS[variant]), site)
        assert flips == 1
    return site


@pytest.fixture
async def nginx_for(tmp_path: Path) -> AsyncIterator[Callable[..., Awaitable[str]]]:
    """Start nginx in front of an app port: `base_url = await nginx_for(port, variant)`."""
    procs: list[asyncio.subprocess.Process] = []

    async def start(app_port: int, variant: str, streams: int | None = None) -> str:
        listen = free_port()
        user = "user root;" if os.geteuid() == 0 else ""
        conf = tmp_path / "nginx.conf"
        conf.write_text(MAIN.format(user=user, tmp=tmp_path,
                                    site=site_config(app_port, listen, variant, streams=streams)))
        proc = await asyncio.create_subprocess_exec(
            NGINX, "-p", str(tmp_path), "-c", str(conf), "-e", str(tmp_path / "error.log"),
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)
        procs.append(proc)
        async with asyncio.timeout(30):
            while True:
                assert proc.returncode is None, (tmp_path / "error.log").read_text()
                try:
                    _, writer = await asyncio.open_connection("127.0.0.1", listen)
                except OSError:
                    await asyncio.sleep(0.05)
                    continue
                writer.close()
                return f"http://127.0.0.1:{listen}"

    yield start
    for proc in procs:
        if proc.returncode is None:
            proc.terminate()  # nginx: fast shutdown of master and workers
        await asyncio.wait_for(proc.wait(), 30)


class Gates:
    """LLM rounds that answer only when the test opens their gate."""

    def __init__(self, server: OpenAIServer, answers: list[Any]) -> None:
        self.answers = answers
        self.gates = [asyncio.Event() for _ in answers]
        self.reached = [asyncio.Event() for _ in answers]
        self.round = 0
        server.responder = self.respond

    async def respond(self, _body: dict[str, Any]) -> Any:
        index = self.round
        self.round += 1
        self.reached[index].set()
        await self.gates[index].wait()
        return self.answers[index]


async def _next_event(resp: aiohttp.ClientResponse) -> dict[str, Any]:
    """Read one SSE event (skipping heartbeat comments) and return its data."""
    while True:
        block = (await resp.content.readuntil(b"\r\n\r\n")).decode()
        stream = parse(block)
        if stream.events:
            [(_, kind, data)] = stream.events
            return {"event": kind, **data}


def _app(openai_server: OpenAIServer, redis_url: str) -> web.Application:
    settings = settings_for(openai_server, redis_url=redis_url, jwt_secret=JWT_SECRET,
                            llm_max_retries=0)
    return create_app(settings, catalog=make_catalog(notes_stdio()))


class PieceGate:
    """Holds the LLM's streamed answer before each piece until the test lets one through."""

    def __init__(self) -> None:
        self.allowed = 0
        self.waiting = asyncio.Event()
        self._changed = asyncio.Condition()

    async def before_piece(self) -> None:
        async with self._changed:
            self.waiting.set()
            await self._changed.wait_for(lambda: self.allowed > 0)
            self.allowed -= 1
            self.waiting.clear()

    async def let_one_through(self) -> None:
        async with self._changed:
            self.allowed += 1
            self._changed.notify_all()


@pytest.mark.parametrize("variant", ["as-shipped", "buffering-on"])
async def test_events_pass_nginx_as_they_are_sent(openai_server: OpenAIServer, redis_url: str,
                                                  nginx_for, auth_for, variant: str) -> None:
    answer = ("You have ", "two notes: ", "buy milk.")
    gates = Gates(openai_server, [call("notes__list_notes"), pieces(*answer)])
    piece_gate = PieceGate()
    async with TestServer(_app(openai_server, redis_url), port=free_port()) as server:
        base = await nginx_for(server.port, variant)
        async with aiohttp.ClientSession() as session, asyncio.timeout(60):
            resp = await session.post(f"{base}/api/voice/llm/stream", json={"query": "notes?"},
                                      headers=auth_for())
            assert resp.status == 200 and resp.headers["Content-Type"].startswith(
                "text/event-stream")
            assert re.fullmatch(r"[0-9a-f]{32}", resp.headers["X-Request-Id"]), "nginx's id"
            # The first LLM round is held: what was sent before it must already be here.
            assert (await _next_event(resp))["type"] == "analyzing"
            assert (await _next_event(resp))["type"] == "discovering"
            await gates.reached[0].wait()
            gates.gates[0].set()
            # The tool runs; the second round is held while its events come through.
            kinds = [(await _next_event(resp))["type"] for _ in range(4)]
            assert kinds == ["selecting", "executing", "executed", "summarizing"]
            await gates.reached[1].wait()
            openai_server.before_piece = piece_gate.before_piece  # the answer's pieces only
            gates.gates[1].set()
            # The answer streams piece by piece: each delta arrives while the next is held
            # (a delta holds back trailing spaces until the next word).
            said = ""
            for sent in range(1, len(answer) + 1):
                await piece_gate.let_one_through()
                delta = await _next_event(resp)
                assert delta["event"] == "delta"
                said += delta["text"]
                assert said == "".join(answer[:sent]).rstrip()
            rest = parse((await resp.read()).decode())
            assert rest.done["status"] == "completed"
            assert rest.done["response"] == "".join(answer)


async def test_an_upload_reaches_the_app_before_its_body_ends(openai_server: OpenAIServer,
                                                              redis_url: str, nginx_for) -> None:
    """The app answers from the headers (here 401) while the client is still sending: nginx
    streams the body instead of buffering 25 MiB first, so the app's limits act early."""
    async with TestServer(_app(openai_server, redis_url), port=free_port()) as server:
        base = await nginx_for(server.port, "as-shipped")
        port = int(base.rsplit(":", 1)[1])
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            writer.write(b"POST /api/voice/audio HTTP/1.1\r\nHost: voice\r\n"
                         b"Content-Type: audio/wav\r\nContent-Length: 20000000\r\n\r\n"
                         + bytes(64 * 1024))  # of 20 MB announced: the rest never comes
            await writer.drain()
            async with asyncio.timeout(20):
                status = await reader.readline()
            assert status.split()[1] == b"401", status
        finally:
            writer.close()


async def test_open_streams_per_client_are_capped(openai_server: OpenAIServer, redis_url: str,
                                                  nginx_for, auth_for) -> None:
    """Past the cap, another API request from the same address gets 429 in the app's error
    shape; the streams already open go on, and the console's files are not counted."""
    openai_server.hang(times=None)
    async with TestServer(_app(openai_server, redis_url), port=free_port()) as server:
        base = await nginx_for(server.port, "as-shipped", streams=2)
        async with aiohttp.ClientSession() as session, asyncio.timeout(60):
            held = [await session.post(f"{base}/api/voice/llm/stream", json={"query": "hi"},
                                       headers=auth_for()) for _ in range(2)]
            assert [r.status for r in held] == [200, 200]
            await openai_server.wait_for_hanging(2)
            async with session.get(f"{base}/api/voice/examples", headers=auth_for()) as resp:
                assert resp.status == 429 and resp.headers["Retry-After"] == "5"
                assert (await resp.json())["error"]["code"] == "too_many_streams"
            async with session.get(f"{base}/healthz") as resp:
                assert resp.status == 200, "only the API is capped"
            for resp in held:
                assert (await _next_event(resp))["type"] == "analyzing"
                resp.close()


async def test_the_listen_socket_passes_nginx(openai_server: OpenAIServer, redis_url: str,
                                              nginx_for, token_for) -> None:
    """The WebSocket upgrade is forwarded: speech in, the transcript and the command's events
    out, through the shipped configuration."""
    openai_server.script_transcription("what is the weather").script(text("Sunny."))
    async with TestServer(_app(openai_server, redis_url), port=free_port()) as server:
        base = await nginx_for(server.port, "as-shipped")
        async with aiohttp.ClientSession() as session, asyncio.timeout(60), \
                session.ws_connect(f"{base}/api/voice/listen") as ws:
            await ws.send_json({"type": "start", "token": token_for(), "sampleRate": 16000,
                                "mode": "push-to-talk"})
            for _ in range(10):
                await ws.send_bytes(bytes(3200))  # 100 ms frames
            await ws.send_json({"type": "stop"})
            messages = [await ws.receive_json()]
            while messages[-1].get("event") != "done":
                messages.append(await ws.receive_json())
    assert messages[0] == {"type": "transcript", "text": "what is the weather"}
    assert messages[-1]["data"]["response"] == "Sunny."
    [received] = openai_server.transcriptions
    assert received.file[:4] == b"RIFF" and len(received.file) == 44 + 32000
