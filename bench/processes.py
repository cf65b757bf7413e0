"""Start and stop the processes under test: the fake LLM and the voice-mcp server itself."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import secrets
import sys
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp

from voice_mcp.services.store import free_port

REPO_ROOT = Path(__file__).resolve().parents[1]
START_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class LLMServer:
    """The fake OpenAI-compatible server's process and addresses."""

    process: asyncio.subprocess.Process
    base_url: str
    control: str


@dataclass(frozen=True)
class VoiceServer:
    """A `voice-mcp serve` process and what a client needs to reach it."""

    process: asyncio.subprocess.Process
    url: str
    jwt_secret: str
    mcp_stats_url: str  # the stats of the notes server it runs as a stdio child
    log_path: Path


async def _stop(process: asyncio.subprocess.Process) -> None:
    """SIGTERM, then SIGKILL if it does not leave in time."""
    if process.returncode is not None:
        return
    process.terminate()
    try:
        async with asyncio.timeout(STOP_TIMEOUT_S):
            await process.wait()
    except TimeoutError:
        process.kill()
        await process.wait()


@contextlib.asynccontextmanager
async def llm_server() -> AsyncIterator[LLMServer]:
    """Run `python -m bench.llm_server` and read its addresses from its first line."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bench.llm_server", cwd=REPO_ROOT,
        stdout=asyncio.subprocess.PIPE, stdin=asyncio.subprocess.DEVNULL)
    try:
        assert process.stdout is not None
        async with asyncio.timeout(START_TIMEOUT_S):
            line = await process.stdout.readline()
        if not line:
            raise RuntimeError("the fake LLM server did not start")
        info = json.loads(line)
        yield LLMServer(process, info["base_url"], info["control"])
    finally:
        await _stop(process)


def catalog_toml(stats_port: int) -> str:
    """One stdio service: the notes server, run by this interpreter from the repository."""
    command = json.dumps([sys.executable, "-m", "bench.mcp_server",
                          "--stats-port", str(stats_port)])
    return (f'[services.notes]\ntitle = "Notes"\ntransport = "stdio"\n'
            f"command = {command}\ncwd = {json.dumps(str(REPO_ROOT))}\n")


@contextlib.asynccontextmanager
async def voice_server(llm: LLMServer, workdir: Path,
                       overrides: dict[str, str] | None = None) -> AsyncIterator[VoiceServer]:
    """Run `python -m voice_mcp serve` with default settings but for the LLM and the catalog.

    It runs in a scratch directory so no developer `.env` leaks in; Redis is the embedded
    default (a private redis-server child); logging stays at its default level (INFO), as
    JSON lines into a file. `overrides` sets more variables (to try a setting's effect).
    """
    port, stats_port = free_port(), free_port()
    secret = secrets.token_hex(32)
    catalog = workdir / "services.toml"
    catalog.write_text(catalog_toml(stats_port))
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("VOICE_MCP_", "OPENAI_API_KEY"))}
    env.update({"VOICE_MCP_HOST": "127.0.0.1", "VOICE_MCP_PORT": str(port),
                "VOICE_MCP_PUBLIC_URL": f"http://127.0.0.1:{port}",
                "VOICE_MCP_JWT_SECRET": secret, "VOICE_MCP_LLM_BASE_URL": llm.base_url,
                "VOICE_MCP_SERVICES_FILE": str(catalog),
                # The per-user limit stays on (its Redis round trip is part of every command)
                # but high enough for a benchmark's burst.
                "VOICE_MCP_RATE_LIMIT_PER_MINUTE": "1000000"})
    env.update(overrides or {})
    log_path = workdir / "server.log"
    with log_path.open("wb") as log:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "voice_mcp", "serve", cwd=workdir, env=env,
            stdin=asyncio.subprocess.DEVNULL, stdout=log, stderr=log)
    url = f"http://127.0.0.1:{port}"
    try:
        await _wait_ready(process, url, log_path)
        yield VoiceServer(process, url, secret, f"http://127.0.0.1:{stats_port}/stats", log_path)
    finally:
        await _stop(process)


async def _wait_ready(process: asyncio.subprocess.Process, url: str, log_path: Path) -> None:
    """Poll /readyz (bounded) until ready (Redis answers, the speech recogniser loaded); fail
    early if the process died."""
    async with aiohttp.ClientSession() as session, asyncio.timeout(START_TIMEOUT_S):
        while process.returncode is None:
            with contextlib.suppress(aiohttp.ClientError):
                async with session.get(f"{url}/readyz") as response:
                    if response.status == 200:
                        return
            await asyncio.sleep(0.05)
    raise RuntimeError(f"voice-mcp exited during start-up:\n{log_tail(log_path)}")


def log_tail(path: Path, chars: int = 2000) -> str:
    """The end of a log file, for an error message."""
    return path.read_text(errors="replace")[-chars:]


def scratch_dir() -> tempfile.TemporaryDirectory[str]:
    return tempfile.TemporaryDirectory(prefix="voice-mcp-bench-")


def memory_kib(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM (peak RSS) of a process, in KiB, from /proc."""
    values: dict[str, int] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, rest = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            values[key] = int(rest.split()[0])
    return values


def children(pid: int) -> list[tuple[int, str]]:
    """Direct children of a process (pid, command line), from /proc."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode().strip()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            found.append((int(entry.name), cmdline))
    return found


def cpu_ms(pid: int) -> float:
    """User plus system CPU time a process has used so far, in ms (clock-tick resolution)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of stat)
    return ticks * 1000 / os.sysconf("SC_CLK_TCK")


def machine_busy_ms() -> float:
    """CPU time all cores have spent busy since boot, in ms (from /proc/stat)."""
    fields = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle, iowait
    return (sum(fields[:8]) - idle) * 1000 / os.sysconf("SC_CLK_TCK")


def tree_cpu_ms(pids: list[int]) -> float:
    """CPU time of the given processes and their direct children, in ms."""
    seen = set(pids)
    for pid in pids:
        seen.update(child for child, _ in children(pid))
    total = 0.0
    for pid in seen:
        try:
            total += cpu_ms(pid)
        except OSError:
            continue  # it has just left
    return total
