"""Benchmark of traces: what one command costs with tracing on versus off, in the same run.

`python -m bench.tracing [--rounds N] [--in-process]` starts two servers side by side on the
same fake LLM and mcp-server-time over stdio: one with nothing set (the no-op tracer), one
exporting over OTLP/HTTP to a receiver in this process (every span of every command, batched
as the SDK does by default). Requests alternate between the two, so machine noise hits both alike.
Two commands: "what time is it in Tokyo" answered by a sentence template (no LLM), and the
same through the fake LLM (two LLM rounds and a tool call). Figures: p50 total per command
on each server, the difference, and each server's own CPU per command.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import statistics
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp

from bench.local_intents import COMMAND, INTENTS, catalog
from bench.processes import LLMServer, VoiceServer, cpu_ms, llm_server, voice_server
from tests.otlp_receiver import OtlpReceiver
from voice_mcp.services.auth import issue_dev_token
from voice_mcp.settings import Settings

WARM_UP = 5


@contextlib.asynccontextmanager
async def _server(llm: LLMServer, local: bool, otlp: str | None) -> AsyncIterator[VoiceServer]:
    with tempfile.TemporaryDirectory() as scratch:
        workdir = Path(scratch)
        overrides = {"VOICE_MCP_SERVICES_FILE": str(catalog(workdir)),
                     "VOICE_MCP_INTENTS_DIR": str(INTENTS),
                     "VOICE_MCP_LOCAL_INTENTS": "prefer" if local else "off"}
        if otlp is not None:
            overrides["OTEL_EXPORTER_OTLP_ENDPOINT"] = otlp
        async with voice_server(llm, workdir, overrides) as server:
            yield server


async def _command(session: aiohttp.ClientSession, server: VoiceServer, token: str) -> float:
    started = time.perf_counter()
    async with session.post(f"{server.url}/api/voice/llm", json={"query": COMMAND},
                            headers={"Authorization": f"Bearer {token}"}) as response:
        done = await response.json()
    assert done["status"] == "completed" and done["results"], done
    return (time.perf_counter() - started) * 1000


async def compare(rounds: int, local: bool) -> dict[str, float]:
    """p50 ms and server CPU ms per command, tracing off and on, requests interleaved."""
    receiver = await OtlpReceiver().start()
    try:
        async with (llm_server() as llm, _server(llm, local, None) as off,
                    _server(llm, local, receiver.url) as on,
                    aiohttp.ClientSession() as session):
            servers = {"off": off, "on": on}
            tokens = {k: issue_dev_token(Settings(_env_file=None, jwt_secret=s.jwt_secret), "b")
                      for k, s in servers.items()}
            times: dict[str, list[float]] = {"off": [], "on": []}
            cpu: dict[str, float] = {}
            for i in range(rounds + WARM_UP):
                if i == WARM_UP:
                    cpu = {k: cpu_ms(s.process.pid) for k, s in servers.items()}
                for key in (("off", "on") if i % 2 else ("on", "off")):
                    elapsed = await _command(session, servers[key], tokens[key])
                    if i >= WARM_UP:
                        times[key].append(elapsed)
            cpu = {k: (cpu_ms(s.process.pid) - cpu[k]) / rounds for k, s in servers.items()}
    finally:
        await receiver.stop()
    found = summary(times["off"], times["on"], cpu["off"], cpu["on"])
    found["spans_exported"] = float(len(receiver.spans))
    return found


def summary(off: list[float], on: list[float], off_cpu: float,
            on_cpu: float) -> dict[str, float]:
    """Medians off and on, their difference, and CPU ms per command off and on."""
    off_ms, on_ms = statistics.median(off), statistics.median(on)
    return {"off_p50_ms": off_ms, "on_p50_ms": on_ms, "delta_ms": on_ms - off_ms,
            "delta_pct": (on_ms - off_ms) / off_ms * 100, "off_cpu_ms": off_cpu,
            "on_cpu_ms": on_cpu}


def rows(found: dict[str, dict[str, float]], cpu: str) -> list[str]:
    """A markdown table of both commands; `cpu` names what the CPU columns measure."""
    lines = ["| command | p50 off ms | p50 on ms | difference | "
             f"{cpu} off ms | on | difference |", "|---|---|---|---|---|---|---|"]
    for name, label in (("template", "sentence template"), ("llm", "fake LLM, 2 rounds")):
        f = found[name]
        lines.append(f"| {label} | {f['off_p50_ms']:.2f} | {f['on_p50_ms']:.2f} "
                     f"| {f['delta_ms']:+.2f} ms ({f['delta_pct']:+.1f}%) "
                     f"| {f['off_cpu_ms']:.2f} | {f['on_cpu_ms']:.2f} "
                     f"| {f['on_cpu_ms'] - f['off_cpu_ms']:+.2f} ms |")
    return lines


async def measure(rounds: int) -> dict[str, dict[str, float]]:
    return {"template": await compare(rounds, local=True),
            "llm": await compare(rounds, local=False)}


def table(found: dict[str, dict[str, float]], rounds: int) -> str:
    """The figures as the markdown section `python -m bench` appends to its report."""
    spans = sum(f["spans_exported"] for f in found.values())
    lines = ["# Traces (python -m bench.tracing)", "",
             f'"{COMMAND}", {rounds} commands per server, the two servers interleaved; '
             f"on: every span exported over OTLP/HTTP to a receiver in the bench process "
             f"({spans:g} spans arrived).", "", *rows(found, "server CPU per command"),
             "", "Targets: at most 1 ms more at the median for the template command, "
                 "at most 5% for the LLM command."]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=200, help="commands per server and kind")
    parser.add_argument("--in-process", action="store_true",
                        help="one server, switched on and off command by command "
                             "(bench/tracing_inprocess.py)")
    args = parser.parse_args()
    if args.in_process:
        from bench import tracing_inprocess

        print(tracing_inprocess.table(asyncio.run(tracing_inprocess.measure(args.rounds)),
                                      args.rounds))
        return
    print(table(asyncio.run(measure(args.rounds)), args.rounds))


if __name__ == "__main__":
    main()
