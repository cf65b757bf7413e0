"""The command line: token, serve with embedded Redis (and nothing left behind), bad config."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path

import aiohttp
import pytest

from tests.cluster import wait_ready
from voice_mcp.services.store import free_port

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def _private_state_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The development secret `serve` and `token` make goes here, never to the real home."""
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "xdg-state"))


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VOICE_MCP_")}
    env.update(extra)
    return env


def test_token_prints_a_verifiable_jwt(tmp_path: Path) -> None:
    out = subprocess.run([sys.executable, "-m", "voice_mcp", "token", "--user", "u7"],
                         capture_output=True, text=True, cwd=tmp_path,
                         env=_env(VOICE_MCP_JWT_SECRET="z" * 40), check=True)
    token = out.stdout.strip()
    assert token.count(".") == 2


def test_token_without_secret_uses_the_development_secret(tmp_path: Path) -> None:
    out = subprocess.run([sys.executable, "-m", "voice_mcp", "token", "--user", "u7"],
                         capture_output=True, text=True, cwd=tmp_path, env=_env())
    assert out.returncode == 0 and out.stdout.count(".") == 2, out.stderr
    assert (tmp_path / "xdg-state" / "voice-mcp" / "dev-jwt-secret").is_file()


def test_token_without_secret_on_a_public_address_says_what_to_set(tmp_path: Path) -> None:
    out = subprocess.run([sys.executable, "-m", "voice_mcp", "token", "--user", "u7"],
                         capture_output=True, text=True, cwd=tmp_path,
                         env=_env(VOICE_MCP_HOST="0.0.0.0"))
    assert out.returncode == 2 and "VOICE_MCP_JWT_SECRET" in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize(("env", "needle"), [
    ({"VOICE_MCP_PORT": "nope"}, "VOICE_MCP_PORT"),
    ({"VOICE_MCP_SERVICES_FILE": "/nonexistent.toml"}, "/nonexistent.toml"),
])
def test_serve_with_bad_config_fails_with_one_line(tmp_path: Path, env: dict[str, str],
                                                   needle: str) -> None:
    out = subprocess.run([sys.executable, "-m", "voice_mcp", "serve"], capture_output=True,
                         text=True, cwd=ROOT, env=_env(**env), timeout=60)
    assert out.returncode == 2 and needle in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1, out.stderr


def test_serve_without_redis_server_says_what_to_do(tmp_path: Path) -> None:
    out = subprocess.run([sys.executable, "-m", "voice_mcp", "serve"], capture_output=True,
                         text=True, cwd=ROOT, timeout=60,
                         env=_env(PATH=str(tmp_path), VOICE_MCP_PORT=str(free_port())))
    assert out.returncode == 2
    assert "apt-get install redis-server" in out.stderr and "VOICE_MCP_REDIS_URL" in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1, out.stderr



def _children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(p) for p in path.read_text().split()] if path.exists() else []


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM, signal.SIGKILL])
async def test_serve_embedded_redis_ready_then_gone_with_the_server(sig: signal.Signals) -> None:
    """Stopped in order on SIGINT/SIGTERM; on a SIGKILL (no cleanup runs) the embedded
    redis-server still goes, by its parent-death signal."""
    port = free_port()
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "voice_mcp", "serve", cwd=ROOT,
        env=_env(VOICE_MCP_PORT=str(port)), stderr=asyncio.subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"
    try:
        async with aiohttp.ClientSession() as session, asyncio.timeout(30):
            await wait_ready(session, base)
            async with session.get(f"{base}/healthz") as resp:
                assert resp.status == 200
        redis_children = [c for c in _children(proc.pid)
                          if "redis-server" in Path(f"/proc/{c}/cmdline").read_text()]
        assert redis_children, "an embedded redis-server runs as a child"
        proc.send_signal(sig)
        async with asyncio.timeout(20):
            await proc.wait()
        assert proc.returncode in (0, -sig)
        async with asyncio.timeout(10):  # after a SIGKILL, its death signal stops redis
            while any(_alive(c) for c in redis_children):
                await asyncio.sleep(0.05)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


async def test_served_app_cancels_the_llm_call_when_the_client_leaves(openai_server,
                                                                     tmp_path: Path) -> None:
    """The real `voice-mcp serve` (not the test server) cancels work on disconnect."""
    from voice_mcp.services.auth import issue_dev_token
    from voice_mcp.settings import Settings

    port = free_port()
    catalog = tmp_path / "services.toml"
    catalog.write_text("")
    secret = "s" * 40
    env = _env(VOICE_MCP_PORT=str(port), VOICE_MCP_JWT_SECRET=secret,
               VOICE_MCP_LLM_BASE_URL=openai_server.base_url, OPENAI_API_KEY="sk-test",
               VOICE_MCP_SERVICES_FILE=str(catalog), VOICE_MCP_LLM_MAX_RETRIES="0",
               VOICE_MCP_RESUME_GRACE_S="0")
    proc = await asyncio.create_subprocess_exec(sys.executable, "-m", "voice_mcp", "serve",
                                                cwd=ROOT, env=env,
                                                stderr=asyncio.subprocess.DEVNULL)
    token = issue_dev_token(Settings(_env_file=None, jwt_secret=secret), "alice")
    openai_server.hang()
    base = f"http://127.0.0.1:{port}"
    try:
        async with aiohttp.ClientSession() as session, asyncio.timeout(30):
            await wait_ready(session, base)
            resp = await session.post(f"{base}/api/voice/llm/stream", json={"query": "hi"},
                                      headers={"Authorization": f"Bearer {token}"})
            await resp.content.readuntil(b"\r\n\r\n")
            await openai_server.wait_for_hanging()
            resp.close()
            await openai_server.disconnected.wait()
        assert openai_server.disconnects == ["chat"]
    finally:
        proc.send_signal(signal.SIGTERM)
        async with asyncio.timeout(20):
            await proc.wait()


@pytest.mark.parametrize(("host", "expected"), [("127.0.0.1", True), ("::1", True),
                                                ("localhost", True), ("0.0.0.0", False),
                                                ("192.168.1.5", False)])
async def test_console_link_only_on_loopback_with_a_secret(host: str, expected: bool) -> None:
    from voice_mcp.runtime.cli import console_link
    from voice_mcp.services.auth import TokenVerifier
    from voice_mcp.settings import Settings

    settings = Settings(_env_file=None, host=host, port=8123, jwt_secret="k" * 40)
    link = console_link(settings)
    assert (link is not None) == expected
    if link is not None:
        prefix, token = link.split("/#token=")
        assert prefix == (f"http://[{host}]:8123" if ":" in host else f"http://{host}:8123")
        assert await TokenVerifier(settings).verify(token) == "dev"
    assert console_link(Settings(_env_file=None, host=host)) is None


async def test_serve_prints_a_console_link_that_signs_in(tmp_path: Path) -> None:
    """The link goes to the terminal (stderr), its token works, and it is not logged."""
    port = free_port()
    catalog = tmp_path / "services.toml"
    catalog.write_text("")
    env = _env(VOICE_MCP_PORT=str(port), VOICE_MCP_SERVICES_FILE=str(catalog),
               VOICE_MCP_LOG_FORMAT="json")
    proc = await asyncio.create_subprocess_exec(sys.executable, "-m", "voice_mcp", "serve",
                                                cwd=ROOT, env=env, stderr=asyncio.subprocess.PIPE)
    assert proc.stderr is not None
    try:
        async with asyncio.timeout(30):
            lines: list[str] = []
            while not any("#token=" in line for line in lines):
                lines.append((await proc.stderr.readline()).decode())
                assert lines[-1], f"serve ended without a console link: {lines}"
        [link_line] = [line for line in lines if "#token=" in line]
        assert not link_line.startswith("{"), "the link is printed, not logged"
        url = link_line.split()[-1]
        assert url.startswith(f"http://127.0.0.1:{port}/#token=")
        token = url.split("#token=", 1)[1]
        async with aiohttp.ClientSession() as session, asyncio.timeout(30):
            await wait_ready(session, f"http://127.0.0.1:{port}")
            async with session.get(f"http://127.0.0.1:{port}/api/voice/examples",
                                   headers={"Authorization": f"Bearer {token}"}) as resp:
                assert resp.status == 200
    finally:
        proc.send_signal(signal.SIGTERM)
        async with asyncio.timeout(20):
            await proc.communicate()


async def test_serve_with_a_production_secret_prints_no_link(tmp_path: Path) -> None:
    """A configured HS256 secret on loopback: no development token goes to stderr (journald)."""
    port = free_port()
    catalog = tmp_path / "services.toml"
    catalog.write_text("")
    env = _env(VOICE_MCP_PORT=str(port), VOICE_MCP_JWT_SECRET="s" * 40,
               VOICE_MCP_SERVICES_FILE=str(catalog), VOICE_MCP_LOG_FORMAT="json")
    proc = await asyncio.create_subprocess_exec(sys.executable, "-m", "voice_mcp", "serve",
                                                cwd=ROOT, env=env, stderr=asyncio.subprocess.PIPE)
    try:
        async with aiohttp.ClientSession() as session, asyncio.timeout(30):
            await wait_ready(session, f"http://127.0.0.1:{port}")  # after the start-up print
    finally:
        proc.send_signal(signal.SIGTERM)
        async with asyncio.timeout(20):
            _out, err = await proc.communicate()
    assert b"listening" in err, err
    assert b"#token=" not in err and b"console" not in err, err
