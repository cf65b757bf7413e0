"""Where the server's CPU goes: py-spy samples of the server, grouped by component.

`python -m bench --profile` adds a last phase: the 100-stream closed loop again, with
py-spy (`pip install py-spy` into .venv; not a project dependency) sampling the server
process. Each sample of the event-loop thread is charged to the innermost frame that
belongs to a component we can act on (the openai SDK split into its request transform,
its response parsing and its HTTP stack; the mcp SDK; aiohttp; Redis; ...): frames of
asyncio, anyio and the standard library are plumbing and charged to whoever called them,
so a socket write counts for the client that wrote.
"""

from __future__ import annotations

import collections
import re
import shutil
import signal
import subprocess
import sys
from pathlib import Path

OPENAI = ("openai", "httpx2", "httpcore2", "h11")
PLUMBING = {"asyncio", "anyio", "json", "selectors", "sniffio", "typing_extensions", "context",
            "trace", "propagate", "mcp_types", "multidict", "yarl", "frozenlist", "attr"}
COMPONENTS = {"mcp": "MCP client: mcp SDK", "redis": "Redis client (rate limit, history)",
              "joserfc": "JWT verification", "aiohttp_sse": "SSE writing",
              "aiohttp": "aiohttp server (HTTP parsing, dispatch, writes)",
              "logging": "logging", "prometheus_client": "metrics", "pydantic": "pydantic",
              "pydantic_core": "pydantic", "jsonschema": "argument validation (jsonschema)"}


def py_spy() -> str | None:
    """The py-spy next to this interpreter, or on PATH."""
    beside = Path(sys.executable).with_name("py-spy")
    return str(beside) if beside.exists() else shutil.which("py-spy")


class Sampler:
    """py-spy recording one process until stopped."""

    def __init__(self, pid: int, output: Path, rate: int = 200) -> None:
        binary = py_spy()
        if binary is None:
            raise RuntimeError("py-spy is not installed: .venv/bin/pip install py-spy")
        self.output = output
        self._process = subprocess.Popen(
            [binary, "record", "-p", str(pid), "-o", str(output), "-f", "raw", "-r", str(rate),
             "--nonblocking"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    def stop(self) -> None:
        """Stop sampling and wait until the samples are written."""
        self._process.send_signal(signal.SIGINT)
        _out, err = self._process.communicate(timeout=30)
        if not self.output.exists():
            raise RuntimeError(f"py-spy wrote nothing: {err.decode(errors='replace')[-500:]}")


def _package(frame: str) -> str:
    found = re.search(r"\(([^/:)]+)", frame)
    return found.group(1) if found else "?"


def component(frames: list[str]) -> str:
    """The component one sample of the event-loop thread is charged to."""
    tasks = [i for i, f in enumerate(frames) if f.startswith("Handle._run ")]
    if not tasks:
        return "event loop: waiting in epoll" if "select" in frames[-1] else "event loop"
    frames = frames[tasks[0] + 1:]
    stack = ";".join(frames)
    for frame in reversed(frames):
        package = _package(frame)
        if package in PLUMBING or package.endswith(".py") or package.startswith("<"):
            continue  # charged to the caller
        if package in OPENAI:
            if "(openai/_utils/_transform.py" in stack:
                return "LLM client: openai request transform"
            if "(openai/_streaming.py" in stack or "(openai/_models.py" in stack:
                return "LLM client: openai response and chunk parsing"
            if package != "openai" or "_send_request" in stack:
                return "LLM client: HTTP (httpx2, httpcore2, h11, socket writes)"
            return "LLM client: openai, other"
        if package == "voice_mcp":
            if "services/mcp" in frame:
                return "MCP client: voice_mcp session and manager"
            if "services/llm" in frame:
                return "LLM client: voice_mcp side"
            return "voice_mcp: orchestrator, routes, middleware"
        return COMPONENTS.get(package, package)
    return "event loop"


def breakdown(raw: Path) -> list[tuple[str, float]]:
    """(component, share of the event-loop thread's samples), largest first."""
    counts: collections.Counter[str] = collections.Counter()
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if "run_app" in stack:  # the event-loop thread; others only wait on child processes
            counts[component(stack.split(";"))] += int(count)
    total = sum(counts.values()) or 1
    return [(name, n / total) for name, n in counts.most_common()]


def table(shares: list[tuple[str, float]], cpu_per_command_ms: float) -> str:
    """The breakdown as Markdown, with each share turned into ms of CPU per command."""
    rows = ["| server component (py-spy, 100 streams sustained) | share | ~CPU per command |",
            "| --- | --- | --- |"]
    rows += [f"| {name} | {share * 100:.1f}% | {share * cpu_per_command_ms:.1f} ms |"
             for name, share in shares if share >= 0.005]
    return "\n".join(rows)
