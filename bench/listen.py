"""Benchmark of the listen socket (docs/api.md, "Listen"): latency and accuracy of streamed
speech against the upload path.

`python -m bench.listen [--rounds N] [--spoken N]`:
1. starts the real server with nothing configured but the time templates (offline speech,
   mcp-server-time over stdio), and streams espeak-ng's "what time is it in Tokyo" over the
   socket in real time (20 ms frames, paced by the clock): push-to-talk, `stop` -> `done`
   and speech start -> first `partial`; `vad` mode, last voiced frame -> `done`; the first
   command right after start-up against the tenth; the upload of the same WAV for comparison;
2. speaks N template sentences (bench/local_intents.py's generator) and counts the right
   ones (intent and arguments) on the upload path and on the streaming recogniser (frames as
   fast as it takes them), each also with 300 ms of low noise before the speech.
`python -m bench` runs part 1 and part 2 with 20 sentences.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import numpy as np

from bench.local_intents import COMMAND, INTENTS, VOICES, catalog, sentences
from bench.processes import VoiceServer, llm_server, voice_server
from voice_mcp.services.auth import issue_dev_token
from voice_mcp.services.intents import LocalIntents
from voice_mcp.services.intents.loader import load_file
from voice_mcp.services.intents.startup import speech_grammar
from voice_mcp.services.stt.audio_format import WAV
from voice_mcp.services.stt.local import LocalTranscriber
from voice_mcp.services.stt.pcm import RATE, wav_bytes, wav_to_pcm16
from voice_mcp.services.stt.streaming import LocalStreaming
from voice_mcp.services.stt.utterance import Utterance
from voice_mcp.services.stt.vad import VoiceActivity
from voice_mcp.settings import Settings

FRAME = RATE * 2 // 50  # 20 ms, as the console's worklet sends
SILENCE_MS = 500
NOISE_MS = 300


@dataclass
class Timed:
    """One streamed command: the client's clock at the moments that matter."""

    speech_start: float = 0.0
    last_voiced: float = 0.0
    stop: float = 0.0
    first_partial: float | None = None
    done: float = 0.0
    messages: list[dict[str, Any]] = field(default_factory=list)


def espeak(text: str, voice: str = "en-us", speed: int = 175) -> bytes:
    with tempfile.TemporaryDirectory() as scratch:
        wav = Path(scratch) / "said.wav"
        subprocess.run(["espeak-ng", "-v", voice, "-s", str(speed), "-w", str(wav), text],
                       check=True, capture_output=True)
        return wav_to_pcm16(wav.read_bytes())


def low_noise(ms: int, seed: int) -> bytes:
    return np.random.default_rng(seed).normal(0, 30, ms * RATE // 1000).astype("<i2").tobytes()


def speech_bounds(pcm: bytes) -> tuple[int, int]:
    """Where the detector finds speech starting and last voiced (byte offsets)."""
    activity = VoiceActivity(SILENCE_MS)
    activity.feed(pcm)
    assert activity.onset is not None and activity.last_voiced is not None
    return activity.onset, activity.last_voiced


async def stream(ws: aiohttp.ClientWebSocketResponse, pcm: bytes, mode: str) -> Timed:
    """Send `pcm` in real time; read the socket meanwhile; the moments, by the client's clock."""
    onset, last = speech_bounds(pcm)
    timed = Timed()
    await ws.send_json({"type": "start", "sampleRate": RATE, "mode": mode})
    reader = asyncio.create_task(_read(ws, timed))
    begun = time.perf_counter()
    for offset in range(0, len(pcm), FRAME):
        await asyncio.sleep(max(0.0, begun + offset / (RATE * 2) - time.perf_counter()))
        if reader.done():
            break  # vad: the server ended the utterance
        await ws.send_bytes(pcm[offset:offset + FRAME])
        now = time.perf_counter()
        if offset <= onset < offset + FRAME:
            timed.speech_start = now
        if offset < last <= offset + FRAME:
            timed.last_voiced = now
    if mode == "push-to-talk":
        timed.stop = time.perf_counter()
        await ws.send_json({"type": "stop"})
    await reader
    return timed


async def _read(ws: aiohttp.ClientWebSocketResponse, timed: Timed) -> None:
    async with asyncio.timeout(120):
        while True:
            message = await ws.receive_json()
            timed.messages.append(message)
            if message["type"] == "partial" and timed.first_partial is None:
                timed.first_partial = time.perf_counter()
            if message.get("event") == "done":
                timed.done = time.perf_counter()
                done = message["data"]
                assert done["status"] == "completed", done
                return


def ms(seconds: float) -> float:
    return round(seconds * 1000, 1)


async def _recogniser_loaded(log_path: Path) -> None:
    """Wait for the server's log line saying the background load ended (bounded)."""
    async with asyncio.timeout(120):
        while True:  # a log file: nothing to await but time
            text = await asyncio.to_thread(log_path.read_text, errors="replace")
            if "recogniser ready" in text:
                return
            await asyncio.sleep(0.1)


async def cold_start() -> float:
    """stop -> done of the first command sent the moment /readyz answers (ms)."""
    pcm = espeak(COMMAND)
    with tempfile.TemporaryDirectory() as scratch:
        async with _offline_server(Path(scratch)) as (server, headers), \
                aiohttp.ClientSession(headers=headers) as session, \
                session.ws_connect(f"{server.url}/api/voice/listen") as ws:
            timed = await stream(ws, pcm, "push-to-talk")
    return ms(timed.done - timed.stop)


@contextlib.asynccontextmanager
async def _offline_server(workdir: Path) -> AsyncIterator[tuple[VoiceServer, dict[str, str]]]:
    """The server with nothing configured but the time templates: offline speech, no LLM."""
    overrides = {"VOICE_MCP_SERVICES_FILE": str(catalog(workdir)),
                 "VOICE_MCP_INTENTS_DIR": str(INTENTS), "VOICE_MCP_STT": "local",
                 "VOICE_MCP_LOCAL_INTENTS": "prefer", "VOICE_MCP_LLM_BASE_URL": "",
                 "VOICE_MCP_VAD_SILENCE_MS": str(SILENCE_MS)}
    async with llm_server() as llm, voice_server(llm, workdir, overrides) as server:
        token = issue_dev_token(Settings(_env_file=None, jwt_secret=server.jwt_secret), "b")
        yield server, {"Authorization": f"Bearer {token}"}


async def server_latency(rounds: int) -> dict[str, Any]:
    """Part 1: the real server, real time, from when the recogniser has loaded."""
    pcm = espeak(COMMAND)
    tail = bytes(RATE * 2 * (SILENCE_MS + 300) // 1000)  # the vad window and a little more
    with tempfile.TemporaryDirectory() as scratch:
        async with _offline_server(Path(scratch)) as (server, headers):
            await _recogniser_loaded(server.log_path)
            async with aiohttp.ClientSession(headers=headers) as session, \
                    session.ws_connect(f"{server.url}/api/voice/listen") as ws:
                ptt = [await stream(ws, pcm, "push-to-talk") for _ in range(rounds)]
                vad = [await stream(ws, pcm + tail, "vad") for _ in range(rounds)]
                uploads = [await _upload(session, server.url, wav_bytes(pcm))
                           for _ in range(rounds)]
    stop_done = [ms(t.done - t.stop) for t in ptt]
    return {
        "rounds": rounds,
        "stop_to_done_ms": {"first": stop_done[0], "tenth": stop_done[min(9, rounds - 1)],
                            "p50_after_first": statistics.median(stop_done[1:] or stop_done)},
        "first_partial_ms_p50": statistics.median(
            ms(t.first_partial - t.speech_start) for t in ptt if t.first_partial),
        "vad_last_voiced_to_done_ms_p50": statistics.median(
            ms(t.done - t.last_voiced) for t in vad),
        "vad_window_ms": SILENCE_MS,
        "upload_to_done_ms_p50": statistics.median(uploads),
        "transcript": next(m["text"] for m in ptt[-1].messages if m["type"] == "transcript"),
    }


async def _upload(session: aiohttp.ClientSession, url: str, wav: bytes) -> float:
    started = time.perf_counter()
    async with session.post(f"{url}/api/voice/audio", data=wav,
                            headers={"Content-Type": "audio/wav"}) as response:
        done = await response.json()
    assert done["status"] == "completed", done
    return ms(time.perf_counter() - started)


async def accuracy(count: int) -> dict[str, float]:
    """Part 2: the spoken benchmark's sentences, upload path against streaming path."""
    intents = LocalIntents([load_file(INTENTS / "time.yaml", "time")])
    stt = LocalTranscriber(lambda known: speech_grammar(intents, known), intents.knows,
                           budget_s=60)
    await stt.warm()
    streaming = LocalStreaming(stt)
    right = {"upload": 0, "stream": 0, "upload_noise": 0, "stream_noise": 0}
    for index, sentence in enumerate(sentences(count, random.Random(11))):
        speech = await asyncio.to_thread(espeak, sentence, *VOICES[index % len(VOICES)])
        want = intents.match(sentence, ["time"])
        assert want is not None
        for noise in (False, True):
            pcm = (low_noise(NOISE_MS, index) if noise else b"") + speech + bytes(RATE)
            heard = {"upload": await stt.transcribe(wav_bytes(pcm), WAV),
                     "stream": await _streamed(streaming, pcm)}
            for path, text in heard.items():
                got = intents.match(text, ["time"])
                ok = got is not None and (got.intent, got.arguments) == (want.intent,
                                                                          want.arguments)
                right[path + ("_noise" if noise else "")] += ok
                if not ok:
                    print(f"  MISS {path}{' +noise' if noise else ''} {sentence!r} -> {text!r}",
                          file=sys.stderr, flush=True)
    return {"sentences": count, **{k: v / count for k, v in right.items()}}


async def _streamed(streaming: LocalStreaming, pcm: bytes) -> str:
    utterance = Utterance(streaming.open("bench"), SILENCE_MS)
    try:
        for offset in range(0, len(pcm), FRAME):
            await utterance.feed(pcm[offset:offset + FRAME])
        return await utterance.finish()
    finally:
        await utterance.close()


def table(latency: dict[str, Any], right: dict[str, float] | None) -> str:
    """The figures as the markdown section `python -m bench` appends to its report."""
    stop = latency["stop_to_done_ms"]
    cold = latency.get("cold_stop_to_done_ms")
    lines = ["# Listen socket (python -m bench.listen)", "",
             f'"{COMMAND}" streamed in real time, offline, {latency["rounds"]} rounds; load '
             f"average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores:", "",
             "| measure | ms | target |", "|---|---|---|",
             f"| push-to-talk, stop -> done, the first command sent the moment /readyz answers "
             f"| {cold} | <= 100 |",
             f"| push-to-talk, stop -> done, first command once the recogniser loaded "
             f"| {stop['first']} | <= 100 |",
             f"| push-to-talk, stop -> done, tenth command | {stop['tenth']} | <= 100 |",
             f"| push-to-talk, stop -> done, p50 after the first | {stop['p50_after_first']} "
             "| <= 100 |",
             f"| speech start -> first partial, p50 | {latency['first_partial_ms_p50']} "
             "| <= 300 |",
             f"| vad, last voiced frame -> done, p50 | {latency['vad_last_voiced_to_done_ms_p50']}"
             f" | <= {latency['vad_window_ms'] + 100} |",
             f"| upload of the same WAV -> done, p50 | {latency['upload_to_done_ms_p50']} | |"]
    if right:
        lines += ["", f"Accuracy, {right['sentences']:g} spoken benchmark sentences (intent and "
                      "arguments right):", "", "| path | clean | 300 ms of low noise first |",
                  "|---|---|---|",
                  f"| upload | {right['upload']:.0%} | {right['upload_noise']:.0%} |",
                  f"| streaming | {right['stream']:.0%} | {right['stream_noise']:.0%} |"]
    return "\n".join(lines) + "\n"


async def measure(rounds: int, spoken: int) -> tuple[dict[str, Any], dict[str, float] | None]:
    latency = await server_latency(rounds)
    latency["cold_stop_to_done_ms"] = await cold_start()
    return latency, (await accuracy(spoken) if spoken else None)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=10, help="streamed commands per mode")
    parser.add_argument("--spoken", type=int, default=100, help="sentences to speak (0: none)")
    args = parser.parse_args()
    latency, right = asyncio.run(measure(args.rounds, args.spoken))
    print(json.dumps({"latency": latency, "accuracy": right}), file=sys.stderr)
    print(table(latency, right))


if __name__ == "__main__":
    main()
