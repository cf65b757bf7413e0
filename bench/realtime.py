"""What is left to do after the user stops, with a speech server (docs/streaming.md, "A speech
server"): `python -m bench.realtime [--rounds N]`.

The same 2 s utterance goes through the listen socket's two server paths, in this process,
to the fake OpenAI server (tests/fakes/openai_server.py, which answers at once: what is
measured is voice-mcp's own share, not a recogniser's): streamed to a Realtime transcription
session as it arrives (frames paced five times faster than a microphone), or sent whole as
one WAV at the end. Reported: `stop` -> transcript, and the bytes still to send at `stop`.
A real server's recognition time comes on top of both; with the Realtime session it overlaps
the speech instead of following it.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time

import numpy as np

from tests.fakes.openai_server import OpenAIServer
from tests.fixtures.openai_server import settings_for
from voice_mcp.services.stt.openai import Transcriber
from voice_mcp.services.stt.pcm import RATE, wav_bytes
from voice_mcp.services.stt.streaming import StreamingSpeech, make_streaming

FRAME = RATE * 2 // 50  # 20 ms
SECONDS = 2.0


def utterance() -> bytes:
    t = np.arange(int(RATE * SECONDS)) / RATE
    return (np.sin(2 * np.pi * 220 * t) * 6000).astype("<i2").tobytes()


async def stop_to_transcript(speech: StreamingSpeech, pcm: bytes) -> float:
    """Milliseconds from the last frame (`stop`) to the transcript."""
    recognizer = speech.open("bench")
    try:
        for offset in range(0, len(pcm), FRAME):
            await recognizer.feed(pcm[offset:offset + FRAME], 0)
            await asyncio.sleep(0.004)
        started = time.perf_counter()
        await recognizer.finish(0)
        return (time.perf_counter() - started) * 1000
    finally:
        await recognizer.close()


async def measure(rounds: int) -> dict[str, list[float]]:
    pcm = utterance()
    found: dict[str, list[float]] = {}
    async with OpenAIServer() as server:
        server.record = False
        server.realtime.enabled = True
        server.transcription_responder = "what time is it in Tokyo"
        for mode in ("on", "off"):
            transcriber = Transcriber(settings_for(server, stt_realtime=mode))
            speech = make_streaming(transcriber)
            try:
                await stop_to_transcript(speech, pcm)  # warm: connections, imports
                found[mode] = [await stop_to_transcript(speech, pcm) for _ in range(rounds)]
            finally:
                await transcriber.close()
    return found


def table(found: dict[str, list[float]]) -> str:
    wav = len(wav_bytes(utterance()))
    rows = {"on": ("Realtime session, appended while speaking", "one commit event (~40 B)"),
            "off": ("one WAV upload at the end", f"{wav:,} B of WAV")}
    lines = ["# Speech server: stop -> transcript (python -m bench.realtime)", "",
             f"| path ({SECONDS:g} s utterance) | p50 ms | p95 ms | left to send at stop |",
             "|---|---:|---:|---|"]
    for mode, values in found.items():
        ordered = sorted(values)
        p95 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]
        lines.append(f"| {rows[mode][0]} | {statistics.median(values):.1f} | {p95:.1f} | "
                     f"{rows[mode][1]} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args()
    print(table(asyncio.run(measure(args.rounds))))


if __name__ == "__main__":
    main()
