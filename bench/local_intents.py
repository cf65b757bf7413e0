"""Benchmark of local commands: offline speech accuracy and speed, and the local path's cost.

`python -m bench.local_intents [--spoken N]`:
1. speaks N template sentences with espeak-ng (several voices and speeds, places drawn from
   the generated list), transcribes them offline, and counts those whose transcript matches
   the same intent with the same arguments as the sentence's text; reports the real-time
   factor (decode time / audio length);
2. starts the real server (embedded Redis, mcp-server-time over stdio, the fake LLM in its
   own process) and times "what time is it in Tokyo" over HTTP: total, the tool's own time,
   the server's overhead beyond it, LLM requests made; then the same with templates off,
   through the fake LLM (two round trips).

The tool's own time is measured two ways: `durationMs` of each result (the server's MCP
call, whole milliseconds), and the same call made by the mcp SDK alone from this process
(`tool_direct_p50_ms`, no rounding); `p50_beyond_direct_ms` is the total's p50 minus it.
`python -m bench` runs the text part (`--local-spoken N` adds the spoken one).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp
from mcp import Client, StdioServerParameters

from bench.processes import REPO_ROOT, llm_server, voice_server
from voice_mcp.errors import TranscriptionFailed
from voice_mcp.services.auth import issue_dev_token
from voice_mcp.services.intents import LocalIntents
from voice_mcp.services.intents.loader import load_file
from voice_mcp.services.intents.places import speech_places
from voice_mcp.services.intents.startup import speech_grammar
from voice_mcp.services.stt.audio_format import WAV
from voice_mcp.services.stt.local import LocalTranscriber
from voice_mcp.settings import Settings

INTENTS = REPO_ROOT / "config" / "intents"
VOICES = [("en-us", 140), ("en-us", 175), ("en", 160), ("en-gb-x-rp", 150), ("en-us", 190)]
TEMPLATES = ["what time is it in {a}", "what's the time in {a}", "what is the time in {a}",
             "what time is it", "what is {t} in {a} in {b}",
             "convert {t} {a} time to {b} time"]
TIMES = ["3 pm", "9 am", "noon", "7 30 pm", "10 am", "6 pm"]
COMMAND = "what time is it in Tokyo"


def sentences(count: int, rng: random.Random) -> list[str]:
    """Sentences the templates accept, with places drawn from the generated list."""
    out = []
    places = [p for p in speech_places() if p != "here"]
    for _ in range(count):
        a, b = rng.sample(places, 2)
        out.append(rng.choice(TEMPLATES).format(a=a, b=b, t=rng.choice(TIMES)))
    return out


async def spoken_accuracy(count: int) -> dict[str, float]:
    intents = LocalIntents([load_file(INTENTS / "time.yaml", "time")])
    stt = LocalTranscriber(lambda known: speech_grammar(intents, known), intents.knows, budget_s=20)
    await stt.warm()
    rng = random.Random(11)
    right = decode_s = audio_s = 0.0
    with tempfile.TemporaryDirectory() as scratch:
        wav = Path(scratch) / "said.wav"
        for index, sentence in enumerate(sentences(count, rng)):
            voice, speed = VOICES[index % len(VOICES)]
            await asyncio.to_thread(subprocess.run, ["espeak-ng", "-v", voice, "-s", str(speed),
                                    "-w", str(wav), sentence], check=True, capture_output=True)
            audio = wav.read_bytes()
            audio_s += (len(audio) - 44) / 2 / 22050
            started = time.perf_counter()
            try:
                heard = await stt.transcribe(audio, WAV)
            except TranscriptionFailed as err:  # over its budget: a miss, and say so
                heard = f"<{err.message}>"
            decode_s += time.perf_counter() - started
            want, got = intents.match(sentence, ["time"]), intents.match(heard, ["time"])
            if want is None or want.problem is not None:  # the bench's own sentence
                raise SystemExit(f"the templates do not take {sentence!r}")
            ok = got is not None and (want.intent, want.arguments) == (got.intent, got.arguments)
            right += ok
            print(f"  {'ok ' if ok else 'MISS'} {voice}/{speed} {sentence!r} -> {heard!r}",
                  file=sys.stderr, flush=True)
    return {"sentences": count, "right_share": right / count, "rtf": decode_s / audio_s}


TIME_SERVER = ["-m", "mcp_server_time", "--local-timezone", "UTC"]


def catalog(workdir: Path) -> Path:
    path = workdir / "time.toml"
    command = json.dumps([sys.executable, *TIME_SERVER])
    path.write_text(f'[services.time]\ntitle = "Time"\ntransport = "stdio"\n'
                    f"command = {command}\n")
    return path


async def direct_tool_ms(rounds: int) -> float:
    """The tool's own time without voice-mcp: p50 of the same call by the mcp SDK over stdio."""
    times = []
    async with Client(StdioServerParameters(command=sys.executable, args=TIME_SERVER)) as mcp:
        for i in range(rounds + 5):
            started = time.perf_counter()
            result = await mcp.call_tool("get_current_time", {"timezone": "Asia/Tokyo"})
            if i >= 5:  # the first ones warm the session
                times.append((time.perf_counter() - started) * 1000)
            assert not result.is_error, result
    return statistics.median(times)


async def http_command(rounds: int, local: bool) -> dict[str, float]:
    """Time the command over HTTP against a real server; overhead = total - the tool's time."""
    with tempfile.TemporaryDirectory() as scratch:
        workdir = Path(scratch)
        overrides = {"VOICE_MCP_SERVICES_FILE": str(catalog(workdir)),
                     "VOICE_MCP_INTENTS_DIR": str(INTENTS),
                     "VOICE_MCP_LOCAL_INTENTS": "prefer" if local else "off"}
        async with llm_server() as llm, voice_server(llm, workdir, overrides) as server:
            token = issue_dev_token(Settings(_env_file=None, jwt_secret=server.jwt_secret), "b")
            headers = {"Authorization": f"Bearer {token}"}
            totals, overheads = [], []
            async with aiohttp.ClientSession(headers=headers) as session:
                before = await _llm_requests(session, llm.control)
                for i in range(rounds + 5):
                    started = time.perf_counter()
                    async with session.post(f"{server.url}/api/voice/llm",
                                            json={"query": COMMAND}) as response:
                        done = await response.json()
                    total = (time.perf_counter() - started) * 1000
                    assert done["status"] == "completed", done
                    assert [r["tool"] for r in done["results"]] == ["get_current_time"], done
                    if i >= 5:  # the first ones warm the MCP session and caches
                        totals.append(total)
                        overheads.append(total - sum(r["durationMs"] for r in done["results"]))
                requests = await _llm_requests(session, llm.control) - before
    return {"p50_ms": statistics.median(totals), "p50_overhead_ms": statistics.median(overheads),
            "llm_requests_per_command": requests / (rounds + 5),
            "processed_locally": done["processedLocally"]}


async def _llm_requests(session: aiohttp.ClientSession, control: str) -> int:
    async with session.get(f"{control}/stats") as response:
        return int((await response.json())["chat_count"])


async def measure(spoken: int, rounds: int) -> dict[str, dict[str, float]]:
    """Every figure of this benchmark, by part: local, via_llm, and spoken when asked."""
    local = await http_command(rounds, local=True)
    local["tool_direct_p50_ms"] = await direct_tool_ms(rounds)
    local["p50_beyond_direct_ms"] = local["p50_ms"] - local["tool_direct_p50_ms"]
    found = {"local": local, "via_llm": await http_command(rounds, local=False)}
    if spoken:
        found["spoken"] = await spoken_accuracy(spoken)
    return found


def table(found: dict[str, dict[str, float]], rounds: int) -> str:
    """The figures as the markdown section `python -m bench` appends to its report."""
    local, via_llm = found["local"], found["via_llm"]
    lines = ["# Local commands (python -m bench.local_intents)", "",
             f'"{COMMAND}" over HTTP, {rounds} sequential runs, mcp-server-time over stdio:', "",
             "| path | p50 total ms | p50 overhead ms (total - durationMs) "
             "| LLM requests per command |",
             "|---|---|---|---|",
             f"| sentence template | {local['p50_ms']:.2f} | {local['p50_overhead_ms']:.2f} "
             f"| {local['llm_requests_per_command']:g} |",
             f"| fake LLM | {via_llm['p50_ms']:.2f} "
             f"| {via_llm['p50_overhead_ms']:.2f} | {via_llm['llm_requests_per_command']:g} |", "",
             f"The tool called by the mcp SDK alone: p50 {local['tool_direct_p50_ms']:.2f} ms; "
             f"the template path's p50 beyond it: {local['p50_beyond_direct_ms']:.2f} ms."]
    spoken = found.get("spoken")
    if spoken:
        lines += ["", f"Offline speech, {spoken['sentences']:g} espeak-ng sentences: "
                      f"{spoken['right_share']:.0%} right (intent and arguments), "
                      f"real-time factor {spoken['rtf']:.2f}."]
    return "\n".join(lines) + "\n"


async def main_async(spoken: int, rounds: int) -> None:
    found = await measure(spoken, rounds)
    print(f"local text command over HTTP ({rounds} runs): {json.dumps(found['local'])}")
    print(f"same command through the fake LLM: {json.dumps(found['via_llm'])}")
    if spoken:
        print(f"offline speech, {spoken} espeak-ng sentences: {json.dumps(found['spoken'])}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spoken", type=int, default=100, help="sentences to speak (0: none)")
    parser.add_argument("--rounds", type=int, default=50, help="HTTP commands to time")
    args = parser.parse_args()
    asyncio.run(main_async(args.spoken, args.rounds))


if __name__ == "__main__":
    main()
