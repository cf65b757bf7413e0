"""Operations (docs/operations.md): the real `voice-mcp serve` as a child process, drained by
SIGTERM, run as several workers, started with Redis down; `rediss://` URLs."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.cluster import wait_ready
from tests.conftest import JWT_SECRET
from tests.fakes.openai_server import OpenAIServer
from tests.redis_server import PersistentRedis
from tests.runtime.test_cli import ROOT, _alive, _children, _env
from tests.sse import parse
from voice_mcp.services.store import free_port

STREAM = "/api/voice/llm/stream"


def descendants(pid: int) -> list[int]:
    """Every live process below `pid` (workers, redis-server, MCP stdio servers)."""
    found: list[int] = []
    for child in _children(pid):
        found.append(child)
        found.extend(descendants(child))
    return found


class Served:
    """`python -m voice_mcp serve` on a free port, with the fake LLM and a test token."""

    def __init__(self, proc: asyncio.subprocess.Process, port: int) -> None:
        self.proc = proc
        self.base = f"http://127.0.0.1:{port}"
        from voice_mcp.services.auth import issue_dev_token
        from voice_mcp.settings import Settings

        token = issue_dev_token(Settings(_env_file=None, jwt_secret=JWT_SECRET), "alice")
        self.auth = {"Authorization": f"Bearer {token}"}

    async def stderr(self) -> str:
        assert self.proc.stderr is not None
        return (await self.proc.stderr.read()).decode()


@contextlib.asynccontextmanager
async def serve(tmp_path: Path, llm: OpenAIServer | None, *args: str, services: str = "",
                **env: str) -> AsyncIterator[Served]:
    port = free_port()
    catalog = tmp_path / "services.toml"
    catalog.write_text(services)
    values = {"VOICE_MCP_PORT": str(port), "VOICE_MCP_JWT_SECRET": JWT_SECRET,
              "VOICE_MCP_SERVICES_FILE": str(catalog), "VOICE_MCP_LLM_MAX_RETRIES": "0",
              "VOICE_MCP_LOG_FORMAT": "text"}
    if llm is not None:
        values |= {"VOICE_MCP_LLM_BASE_URL": llm.base_url, "OPENAI_API_KEY": "sk-test"}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "voice_mcp", "serve", *args, cwd=ROOT,
        env=_env(**(values | env)), stderr=asyncio.subprocess.PIPE)
    try:
        yield Served(proc, port)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


async def _gated(gate: asyncio.Event, reached: asyncio.Event, answer: str) -> str:
    reached.set()
    await gate.wait()
    return answer


async def _first_event(resp: aiohttp.ClientResponse) -> str:
    return (await resp.content.readuntil(b"\r\n\r\n")).decode()


async def _new_commands_are_refused(session: aiohttp.ClientSession, served: Served) -> None:
    """While draining: readiness 503 `draining`, commands and confirmations 503 `draining`."""
    async with session.get(f"{served.base}/readyz") as resp:
        assert resp.status == 503 and (await resp.json())["error"]["code"] == "draining"
    for path, body in ((STREAM, {"query": "hi"}), ("/api/voice/llm", {"query": "hi"}),
                       ("/api/voice/confirm", {"confirmationId": "x" * 32, "approved": True})):
        async with session.post(served.base + path, json=body, headers=served.auth) as resp:
            assert resp.status == 503, path
            assert (await resp.json())["error"]["code"] == "draining"
            assert int(resp.headers["Retry-After"]) >= 1


async def _wait_draining(session: aiohttp.ClientSession, served: Served) -> None:
    while True:
        async with session.get(f"{served.base}/readyz") as resp:
            if resp.status == 503:
                return
        await asyncio.sleep(0.05)


async def test_sigterm_drains_a_running_command_then_exits_clean(openai_server: OpenAIServer,
                                                                 tmp_path: Path) -> None:
    gate, reached = asyncio.Event(), asyncio.Event()
    openai_server.script(lambda _body: _gated(gate, reached, "Finished after the signal."))
    async with serve(tmp_path, openai_server) as served, aiohttp.ClientSession() as session:
        async with asyncio.timeout(60):
            await wait_ready(session, served.base)
            helpers = descendants(served.proc.pid)
            assert helpers, "the embedded redis-server runs below the server"
            resp = await session.post(served.base + STREAM, json={"query": "hi"},
                                      headers=served.auth)
            first = await _first_event(resp)
            await reached.wait()  # the command is in flight, held in the LLM
            served.proc.send_signal(signal.SIGTERM)
            await _wait_draining(session, served)
            await _new_commands_are_refused(session, served)
            assert served.proc.returncode is None, "the server waits for the running command"
            gate.set()
            stream = parse(first + (await resp.text()))
            assert stream.done["status"] == "completed"
            assert stream.done["response"] == "Finished after the signal."
            assert await served.proc.wait() == 0
        assert not any(_alive(p) for p in helpers), "a child was left behind"
        assert "draining: 1 command(s) in flight" in await served.stderr()


async def test_a_command_still_running_at_the_drain_deadline_is_stopped(
        openai_server: OpenAIServer, tmp_path: Path) -> None:
    openai_server.hang()
    async with serve(tmp_path, openai_server, VOICE_MCP_DRAIN_S="0.5") as served, \
            aiohttp.ClientSession() as session:
        async with asyncio.timeout(60):
            await wait_ready(session, served.base)
            resp = await session.post(served.base + STREAM, json={"query": "hi"},
                                      headers=served.auth)
            first = await _first_event(resp)
            await openai_server.wait_for_hanging()
            served.proc.send_signal(signal.SIGTERM)
            stream = parse(first + (await resp.text()))
            assert await served.proc.wait() == 0
    assert [e["code"] for e in stream.errors] == ["draining"]
    assert stream.errors[0]["retryable"] is True
    assert stream.done["status"] == "cancelled"
    await asyncio.wait_for(openai_server.disconnected.wait(), 30)  # the LLM call was dropped


async def _worker_pids(pid: int) -> list[int]:
    return [c for c in _children(pid)
            if "--worker" in Path(f"/proc/{c}/cmdline").read_text().replace("\0", " ")]


NOTES_STDIO = f"""[services.notes]
title = "Notes"
transport = "stdio"
command = {json.dumps([sys.executable, "-m", "tests.mcp_servers.notes_server"])}
cwd = {json.dumps(str(ROOT))}
"""


def _notes_servers(pid: int) -> list[int]:
    return [p for p in descendants(pid)
            if b"tests.mcp_servers.notes_server" in Path(f"/proc/{p}/cmdline").read_bytes()]


async def test_workers_share_the_port_are_restarted_and_stop_clean(tmp_path: Path) -> None:
    """Two workers, one embedded Redis, each worker its own MCP stdio child; a killed worker
    is replaced; SIGTERM leaves nothing behind."""
    async with serve(tmp_path, None, "--workers", "2", services=NOTES_STDIO) as served, \
            aiohttp.ClientSession() as session:
        async with asyncio.timeout(90):
            await wait_ready(session, served.base)
            while len(workers := await _worker_pids(served.proc.pid)) < 2:
                await asyncio.sleep(0.1)
            redis = [c for c in _children(served.proc.pid) if c not in workers]
            assert len(redis) == 1, "one embedded Redis for all workers"
            while not (orphans := _notes_servers(workers[0])):
                await asyncio.sleep(0.1)
            os.kill(workers[0], signal.SIGKILL)
            while True:  # the parent starts another in its place
                now = await _worker_pids(served.proc.pid)
                if len(now) == 2 and workers[0] not in now:
                    break
                await asyncio.sleep(0.1)
            await wait_ready(session, served.base)
            while len(_notes_servers(served.proc.pid)) < 2:  # one per live worker
                await asyncio.sleep(0.1)
            while any(_alive(p) for p in orphans):  # the killed worker's child saw EOF
                await asyncio.sleep(0.1)
            everything = descendants(served.proc.pid)
            served.proc.send_signal(signal.SIGTERM)
            assert await served.proc.wait() == 0
        assert not any(_alive(p) for p in everything), "a child was left behind"
        err = await served.stderr()
    assert "worker 0 exited with -9; restarting" in err


async def test_redis_down_at_start_up_readiness_says_so_until_it_comes(tmp_path: Path) -> None:
    port = free_port()
    async with serve(tmp_path, None,
                     VOICE_MCP_REDIS_URL=f"redis://127.0.0.1:{port}/0") as served, \
            aiohttp.ClientSession() as session:
        async with asyncio.timeout(60):
            while True:
                with contextlib.suppress(aiohttp.ClientConnectionError):
                    async with session.get(f"{served.base}/readyz") as resp:
                        body: dict[str, Any] = await resp.json()
                        break
                await asyncio.sleep(0.1)
            assert resp.status == 503 and body["error"]["code"] == "redis_unavailable"
            # A Redis that comes up later is used without a restart.
            (tmp_path / "redis").mkdir()
            redis = PersistentRedis(tmp_path / "redis", port)
            await redis.start()
            try:
                await wait_ready(session, served.base)
            finally:
                await redis.stop()
            served.proc.send_signal(signal.SIGTERM)
            assert await served.proc.wait() == 0
        err = await served.stderr()
    assert "/readyz answers 503 until it does" in err


def test_rediss_urls_are_accepted_and_use_tls() -> None:
    from redis.asyncio import Redis
    from redis.asyncio.connection import SSLConnection

    from voice_mcp.services.store import make_pool
    from voice_mcp.settings import Settings

    url = "rediss://:secret@redis.example.com:6380/0?ssl_cert_reqs=required"
    settings = Settings(_env_file=None, redis_url=url)
    client = make_pool(settings.redis_url or "")
    assert isinstance(client, Redis)
    pool = client.connection_pool
    assert pool.connection_class is SSLConnection
    assert pool.connection_kwargs["host"] == "redis.example.com"
    assert pool.connection_kwargs["port"] == 6380


@pytest.mark.parametrize("count", ["0", "x"])
def test_bad_worker_counts_fail_in_one_line(count: str) -> None:
    import subprocess

    out = subprocess.run([sys.executable, "-m", "voice_mcp", "serve", "--workers", count],
                         capture_output=True, text=True, cwd=ROOT, env=_env(), timeout=60)
    assert out.returncode == 2 and "workers" in out.stderr


async def test_a_draining_instance_lets_its_command_move_to_another(
        openai_server: OpenAIServer, redis_url: str, tmp_path: Path) -> None:
    """Two instances on one Redis: A drains, its client leaves A and follows the command on B
    (resumable commands); A keeps the command running until it ends, then exits 0."""
    from tests.cluster import events_of, read_until

    gate, reached = asyncio.Event(), asyncio.Event()
    openai_server.script(lambda _body: _gated(gate, reached, "Finished on A, read on B."))
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    async with serve(tmp_path / "a", openai_server, VOICE_MCP_REDIS_URL=redis_url) as a, \
            serve(tmp_path / "b", openai_server, VOICE_MCP_REDIS_URL=redis_url) as b, \
            aiohttp.ClientSession() as session:
        async with asyncio.timeout(90):
            await wait_ready(session, a.base)
            await wait_ready(session, b.base)
            resp = await session.post(a.base + STREAM, json={"query": "hi"}, headers=a.auth)
            events = events_of(resp)
            before = [await anext(events)]
            command_id, last = str(before[0][2]["commandId"]), before[0][0]
            await reached.wait()
            a.proc.send_signal(signal.SIGTERM)
            await _wait_draining(session, a)
            resp.close()  # the client moves: A's readiness said it is going away
            moved = await session.get(f"{b.base}/api/voice/commands/{command_id}/events",
                                      headers={**b.auth, "Last-Event-ID": str(last)})
            assert a.proc.returncode is None, "A waits for its command, though its client left"
            gate.set()
            rest = await read_until(events_of(moved), lambda kind, _: kind == "done")
            assert [e[1] for e in rest].count("done") == 1
            assert rest[-1][2]["status"] == "completed", rest
            assert rest[-1][2]["response"] == "Finished on A, read on B."
            assert await a.proc.wait() == 0
