"""A first run as a new user makes it (issue 10.10-14): the real `python -m voice_mcp` in a
subprocess, away from the repository's .env and the user's state directory."""

from __future__ import annotations

import asyncio
import os
import socket
import stat
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest

from voice_mcp.services.store import free_port

ROOT = Path(__file__).resolve().parents[2]


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """No VOICE_MCP_* or OPENAI_* from outside; state and catalog in the test's directory."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("VOICE_MCP_", "OPENAI_"))}
    catalog = tmp_path / "services.toml"
    if not catalog.exists():
        catalog.write_text("")
    env.update(VOICE_MCP_STATE_DIR=str(tmp_path / "state"), VOICE_MCP_SERVICES_FILE=str(catalog),
               XDG_STATE_HOME=str(tmp_path / "xdg"))
    env.update(extra)
    return env


@dataclass
class Served:
    proc: asyncio.subprocess.Process
    base: str
    port: int


@asynccontextmanager
async def serving(tmp_path: Path, **env: str) -> AsyncIterator[Served]:
    """`voice-mcp serve` in tmp_path, ready (readyz 200) or the test fails with its stderr."""
    port = free_port()
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "voice_mcp", "serve", cwd=tmp_path,
        env=_env(tmp_path, VOICE_MCP_PORT=str(port), PYTHONPATH=str(ROOT), **env),
        stderr=asyncio.subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"
    try:
        async with aiohttp.ClientSession() as session, asyncio.timeout(60):
            while True:
                if proc.returncode is not None:
                    err = (await proc.stderr.read()).decode() if proc.stderr else ""
                    pytest.fail(f"serve exited {proc.returncode}: {err}")
                try:
                    async with session.get(f"{base}/readyz") as resp:
                        if resp.status == 200:
                            break
                except aiohttp.ClientConnectionError:
                    pass
                await asyncio.sleep(0.1)
        yield Served(proc, base, port)
    finally:
        if proc.returncode is None:
            proc.terminate()
            async with asyncio.timeout(30):
                await proc.wait()


async def _stderr_of(served: Served) -> str:
    served.proc.terminate()
    assert served.proc.stderr is not None
    async with asyncio.timeout(30):
        err = await served.proc.stderr.read()
        await served.proc.wait()
    return err.decode()


def _cli(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "voice_mcp", *args], capture_output=True,
                          text=True, cwd=tmp_path, timeout=120,
                          env=_env(tmp_path, PYTHONPATH=str(ROOT), **env))


async def test_the_shipped_env_example_starts(tmp_path: Path) -> None:
    """10.10: `OPENAI_API_KEY=` and the other empty values mean unset, not a crash."""
    (tmp_path / ".env").write_text((ROOT / "config" / ".env.example").read_text())
    async with serving(tmp_path, OPENAI_API_KEY="", VOICE_MCP_LLM_BASE_URL="") as served:
        err = await _stderr_of(served)
    assert "Traceback" not in err


async def test_nothing_configured_makes_a_dev_secret_token_and_ask_use(tmp_path: Path) -> None:
    """10.11: on loopback a development secret is made and kept; one line says what is missing."""
    async with serving(tmp_path) as served:
        secret_file = tmp_path / "state" / "dev-jwt-secret"
        assert stat.S_IMODE(secret_file.stat().st_mode) == 0o600
        token = await asyncio.to_thread(_cli, tmp_path, "token", "--user", "newcomer")
        assert token.returncode == 0, token.stderr
        headers = {"Authorization": f"Bearer {token.stdout.strip()}"}
        async with aiohttp.ClientSession() as session, \
                session.get(f"{served.base}/api/voice/capabilities", headers=headers) as resp:
            assert resp.status == 200
        asked = await asyncio.to_thread(_cli, tmp_path, "ask", "hello", "--url", served.base)
        # Signed with the same secret: the server got past auth to say what is missing.
        assert "llm_not_configured" in asked.stderr, asked.stderr
        err = await _stderr_of(served)
    missing = [line for line in err.splitlines() if "not configured" in line]
    assert len(missing) == 1, err
    assert "LLM" in missing[0] and "sentence templates still answer" in missing[0]
    assert "speech-to-text" not in missing[0] and ".env" in missing[0]  # offline STT serves
    assert secret_file.read_text().strip() not in err


def test_no_auth_on_a_public_address_refuses_to_start(tmp_path: Path) -> None:
    out = _cli(tmp_path, "serve", VOICE_MCP_HOST="0.0.0.0", VOICE_MCP_PORT=str(free_port()))
    assert out.returncode == 2
    assert len(out.stderr.strip().splitlines()) == 1, out.stderr
    assert "VOICE_MCP_JWT_SECRET" in out.stderr and "0.0.0.0" in out.stderr
    assert not (tmp_path / "state").exists()


def test_a_busy_port_is_one_line(tmp_path: Path) -> None:
    """10.13: no "listening on" and no traceback, a non-zero exit."""
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        out = _cli(tmp_path, "serve", VOICE_MCP_PORT=str(port))
    assert out.returncode == 2
    assert out.stderr.strip().splitlines() == [
        f"voice-mcp: 127.0.0.1:{port} is already in use: stop the other server or set"
        " VOICE_MCP_PORT"], out.stderr
    assert "listening" not in out.stdout + out.stderr


async def test_stdio_servers_start_in_the_background(tmp_path: Path) -> None:
    """10.14: after start-up the stdio server runs before any command arrives."""
    marker = f"warm-{tmp_path.name}"
    (tmp_path / "services.toml").write_text(
        "[services.time]\ntitle = \"Time\"\ntransport = \"stdio\"\n"
        f"command = [\"python\", \"-m\", \"mcp_server_time\", \"--local-timezone\", \"UTC\"]\n"
        f"env = {{ MARKER = \"{marker}\" }}\n")
    async with serving(tmp_path) as served:
        async with asyncio.timeout(60):
            while not _children_with(served.proc.pid, "mcp_server_time"):
                await asyncio.sleep(0.1)


def _children_with(pid: int, needle: str) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    found = []
    for child in (int(p) for p in path.read_text().split()) if path.exists() else []:
        try:
            if needle in Path(f"/proc/{child}/cmdline").read_text():
                found.append(child)
        except FileNotFoundError:
            continue
    return found


def test_make_run_installs_only_the_runtime(tmp_path: Path) -> None:
    """10.15: the run target's install has no test or dev extras; test and lint have them."""
    def plan(target: str) -> str:
        return subprocess.run(["make", "-n", target, f"VENV={tmp_path}/venv"], cwd=ROOT,
                              capture_output=True, text=True, check=True).stdout

    run = plan("run")
    assert "pip install -q -e ." in run and "[test" not in run and "dev]" not in run
    for target in ("test", "lint"):
        assert "-e '.[test,dev]'" in plan(target), target




def test_secret_file_warnings_name_a_readable_env_and_a_server_beside_it(tmp_path: Path) -> None:
    from voice_mcp.runtime.startup import secret_file_warnings
    from voice_mcp.services.catalog import Catalog, ServiceConfig

    env_file = tmp_path / ".env"
    env_file.write_text("OPENAI_API_KEY=sk-x\n")
    env_file.chmod(0o644)
    beside = ServiceConfig(id="beside", title="B", transport="stdio", command=["x"],
                           cwd=str(tmp_path))
    own = ServiceConfig(id="own", title="O", transport="stdio", command=["x"])
    catalog = Catalog(services={"beside": beside, "own": own})
    readable, server = secret_file_warnings(catalog, env_file)
    assert "chmod 600" in readable and "'beside'" in server
    env_file.chmod(0o600)
    assert secret_file_warnings(Catalog(services={"own": own}), env_file) == []
