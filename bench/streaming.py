"""How soon a device can start speaking: `delta` relay latency and first-word estimates.

Run as `python -m bench.streaming [--runs N]`. The fake LLM (its own process) streams at a
realistic pace: the first token after 300 ms, then 30 tokens a second. For each command it
reports the time from the LLM sending the answer's first token to the client receiving the
first `delta` (both stamped with the machine's wall clock, in separate processes), and the
first-spoken-word estimate: first delta + local espeak-ng time for the first sentence,
against waiting for `done` and then synthesising that sentence. Both values of
`VOICE_MCP_LLM_STREAM` are run; it changes only JSON commands (streamed commands always stream
their rounds), whose latency and server CPU are reported too.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from bench.client import Connection, Timing, command_body, encode_request
from bench.llm_server import ANSWER
from bench.processes import cpu_ms, llm_server, scratch_dir, voice_server
from bench.stats import Summary, ms
from voice_mcp.services.auth import issue_dev_token
from voice_mcp.services.tts import SpeechFormat
from voice_mcp.services.tts.local import local_speech
from voice_mcp.settings import Settings

FIRST_TOKEN_S, TOKENS_PER_S = 0.3, 30
FIRST_SENTENCE = ANSWER.split(". ")[0] + "."


@dataclass
class Run:
    """One server configuration's figures, in ms."""

    relay: list[float] = field(default_factory=list)  # LLM's first answer token -> 1st delta
    first_delta: list[float] = field(default_factory=list)
    first_sentence: list[float] = field(default_factory=list)  # its end reached the client
    done: list[float] = field(default_factory=list)
    server_first_delta: list[float] = field(default_factory=list)  # done.timings.firstDelta
    deltas: list[float] = field(default_factory=list)
    json_total: list[float] = field(default_factory=list)
    speech_first_byte: list[float] = field(default_factory=list)  # POST /api/voice/speech
    speech_total: list[float] = field(default_factory=list)
    cpu_sse: float = 0.0  # server CPU ms per command
    cpu_json: float = 0.0


async def espeak_ms(text: str, runs: int = 15) -> float:
    """Median wall time for espeak-ng to make the whole WAV of `text`."""
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        async for _chunk in local_speech(text, SpeechFormat.WAV, 30.0):
            pass
        times.append((time.perf_counter() - started) * 1000)
    return Summary.of(times).p50


async def measure(overrides: dict[str, str], runs: int) -> Run:
    """Start the paced fake LLM and a server; time `runs` streamed and `runs` JSON commands."""
    result = Run()
    with scratch_dir() as scratch:
        async with (llm_server() as llm,
                    voice_server(llm, Path(scratch), overrides) as server,
                    aiohttp.ClientSession() as control):
            async with control.post(f"{llm.control}/pace?first={FIRST_TOKEN_S}"
                                    f"&rate={TOKENS_PER_S}") as response:
                response.raise_for_status()
            token = issue_dev_token(Settings(_env_file=None, jwt_secret=server.jwt_secret),
                                    "bench")
            host = server.url.removeprefix("http://")
            name, port = host.split(":")
            conn = await Connection.open(name, int(port))
            sse = encode_request(host, "/api/voice/llm/stream", token, command_body())
            whole = encode_request(host, "/api/voice/llm", token, command_body())
            try:
                for _ in range(3):  # warm: MCP session, tool cache, pools
                    await conn.command(sse)
                    await conn.command(whole)
                before = cpu_ms(server.process.pid)
                for _ in range(runs):
                    await _first_tokens(control, llm.control)  # clear
                    timing = await conn.command(sse)
                    _record(result, timing, await _first_tokens(control, llm.control))
                result.cpu_sse = (cpu_ms(server.process.pid) - before) / runs
                before = cpu_ms(server.process.pid)
                for _ in range(runs):
                    result.json_total.append((await conn.command(whole)).total_ms)
                result.cpu_json = (cpu_ms(server.process.pid) - before) / runs
                await _speech(control, server.url, token, result, runs)
            finally:
                await conn.close()
    return result


async def _speech(session: aiohttp.ClientSession, url: str, token: str, result: Run,
                  runs: int) -> None:
    """Time `/api/voice/speech` (local espeak-ng: no key is set) for the first sentence."""
    headers = {"Authorization": f"Bearer {token}"}
    for _ in range(runs):
        started = time.perf_counter()
        async with session.post(f"{url}/api/voice/speech", json={"text": FIRST_SENTENCE},
                                headers=headers) as response:
            response.raise_for_status()
            first = True
            async for _chunk in response.content.iter_any():
                if first:
                    result.speech_first_byte.append((time.perf_counter() - started) * 1000)
                    first = False
        result.speech_total.append((time.perf_counter() - started) * 1000)


async def _first_tokens(session: aiohttp.ClientSession, control: str) -> list[float]:
    async with session.get(f"{control}/first-tokens?clear=1") as response:
        return list((await response.json())["first_token_at"])


def _record(result: Run, timing: Timing, first_tokens: list[float]) -> None:
    if timing.done.get("response") != ANSWER or len(first_tokens) != 2:
        raise RuntimeError(f"unexpected command: {timing.done} ({len(first_tokens)} rounds)")
    result.relay.append((timing.first_delta_epoch - first_tokens[1]) * 1000)
    result.first_delta.append(timing.first_delta_ms)
    result.first_sentence.append(timing.first_sentence_ms)
    result.done.append(timing.total_ms)
    result.server_first_delta.append(float(timing.done["timings"]["firstDelta"]))
    result.deltas.append(timing.deltas)


def render(results: dict[str, Run], tts_ms: float, runs: int) -> str:
    lines = [f"# Speak sooner ({runs} commands per row; LLM: first token "
             f"{FIRST_TOKEN_S * 1000:g} ms, then {TOKENS_PER_S} tokens/s)", "",
             f"espeak-ng, first sentence ({FIRST_SENTENCE!r}): {ms(tts_ms)} (median)", "",
             "| VOICE_MCP_LLM_STREAM | first delta - LLM first answer token | first delta "
             "| done | first word: first delta + TTS | first word: first sentence + TTS "
             "| first word: done + TTS | deltas/answer "
             "| JSON total | server CPU/cmd SSE | server CPU/cmd JSON |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for name, run in results.items():
        first, done = Summary.of(run.first_delta), Summary.of(run.done)
        sentence = Summary.of(run.first_sentence)
        lines.append(
            f"| {name} | {Summary.of(run.relay).text()} | p50 {ms(first.p50)} | "
            f"p50 {ms(done.p50)} | p50 {ms(first.p50 + tts_ms)} | "
            f"p50 {ms(sentence.p50 + tts_ms)} | p50 {ms(done.p50 + tts_ms)}"
            f" | {Summary.of(run.deltas).mean:.1f} | p50 {ms(Summary.of(run.json_total).p50)} "
            f"| {run.cpu_sse:.1f} ms | {run.cpu_json:.1f} ms |")
    for name, run in results.items():
        lines.append(f"\n`POST /api/voice/speech` (espeak-ng, first sentence, "
                     f"VOICE_MCP_LLM_STREAM={name}): first byte "
                     f"{Summary.of(run.speech_first_byte).text()}; whole WAV "
                     f"{Summary.of(run.speech_total).text()}")
    return "\n".join(lines)


async def main_async(runs: int) -> str:
    if shutil.which("espeak-ng") is None:
        raise SystemExit("bench.streaming needs espeak-ng (scripts/install-system-deps.sh)")
    tts = await espeak_ms(FIRST_SENTENCE)
    results: dict[str, Run] = {}
    for value in ("false", "true"):
        print(f"bench.streaming: VOICE_MCP_LLM_STREAM={value}", file=sys.stderr, flush=True)
        results[value] = await measure({"VOICE_MCP_LLM_STREAM": value}, runs)
    return render(results, tts, runs)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.streaming",
                                     description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, default=30, help="commands per measurement")
    args: Any = parser.parse_args(argv)
    report = asyncio.run(main_async(args.runs))
    print(report)
    out = Path(__file__).resolve().parent / "results" / "streaming.md"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(report + "\n")


if __name__ == "__main__":
    main()
