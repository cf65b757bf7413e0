"""What keeping commands resumable costs (docs/resume.md): Redis work per command and
the first event's delay, measured on the command registry itself against a real redis-server.

    python -m bench.commands [--commands 300]

A typical single-tool command (12 events: stages, a few deltas, done) is fed through
`CommandRegistry.start` and followed by a local reader, as the SSE route does. Reported:
the CPU redis-server spent per command (INFO commandstats), the wall time of the registry's
Redis calls per command (the Lua appends, summed; they run off the live path, batched),
their count, and start -> first event as the reader sees it.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import redis.asyncio as aioredis

from bench.stats import Summary, ms
from voice_mcp.services.commands import (
    CancelListener,
    CommandInfo,
    CommandRegistry,
    new_instance_id,
)
from voice_mcp.services.commands.recorder import Recorder
from voice_mcp.services.store import start_embedded_redis

STAGES = ["analyzing", "discovering", "selecting", "executing", "executed", "summarizing"]


class _Event:
    def __init__(self, kind: str, data: dict[str, Any]) -> None:
        self.kind = kind
        self.data = data

    def wire(self) -> dict[str, Any]:
        return self.data


async def typical_command(query: str) -> AsyncIterator[_Event]:
    """The events of a single-tool command, with the awaits a real run has between stages."""
    for stage in STAGES:
        yield _Event("progress", {"type": stage, "message": stage, "timestamp": 0})
        await asyncio.sleep(0)
    for piece in ("It is ", "9 pm ", "in ", "Tokyo", "."):
        yield _Event("delta", {"text": piece})
        await asyncio.sleep(0)
    yield _Event("done", {"success": True, "status": "completed", "query": query,
                          "response": "It is 9 pm in Tokyo.", "results": [], "timings": {}})


def timed_writes(spent: dict[str, list[float]]) -> None:
    """Wrap the recorder's Redis call to add up its time per recorder (per command)."""
    original = Recorder._write

    async def write(self: Recorder, batch: Any) -> bool:
        started = time.perf_counter()
        try:
            return await original(self, batch)
        finally:
            spent.setdefault(self.keys.events, []).append((time.perf_counter() - started) * 1000)

    Recorder._write = write  # type: ignore[method-assign]


async def measure(commands: int) -> dict[str, Summary]:
    server = await start_embedded_redis()
    redis = aioredis.Redis.from_url(server.url)
    spent: dict[str, list[float]] = {}
    timed_writes(spent)
    registry = CommandRegistry(redis, new_instance_id(), grace_s=30, events_ttl_s=600,
                               budget_s=60)
    first: list[float] = []
    before = await _server_usec(redis)
    try:
        for n in range(commands):
            info = CommandInfo("bench-user", f"query {n}", "conv")
            started = time.perf_counter()
            running = await registry.start(info, typical_command(info.query))
            async for event in registry.attach(running):
                if event.seq == 1:
                    first.append((time.perf_counter() - started) * 1000)
            await running.recorder.drain()
        server_ms = (await _server_usec(redis) - before) / 1000 / commands
        per_command = list(spent.values())
        cancelled = await cancel_latency(server.url, 50)
    finally:
        await registry.upkeep.close()
        await redis.aclose()
        await server.stop()
    return {"cancel": cancelled, "first": Summary.of(first),
            "redis": Summary.of([sum(v) for v in per_command]),
            "server": Summary.of([server_ms]),
            "calls": Summary.of([float(len(v)) for v in per_command])}


async def forever(query: str) -> AsyncIterator[_Event]:
    """A command that runs until it is cancelled (a slow tool)."""
    yield _Event("progress", {"type": "executing", "message": query, "timestamp": 0})
    await asyncio.Event().wait()


async def cancel_latency(url: str, runs: int) -> Summary:
    """`POST .../cancel` on another instance -> the owner's reader has `done cancelled`:
    one registry cancels, over Redis pub/sub, what the other runs."""
    redis = aioredis.Redis.from_url(url)
    owner, other = (CommandRegistry(redis, new_instance_id(), grace_s=30, events_ttl_s=600,
                                    budget_s=60) for _ in range(2))
    listener = CancelListener(redis, owner.instance_id, owner.cancel_local)
    owner.upkeep.spawn(listener.run())
    await asyncio.sleep(0.2)  # subscribed
    took: list[float] = []
    try:
        for _ in range(runs):
            running = await owner.start(CommandInfo("bench-user", "slow", "conv"),
                                        forever("slow"))
            reader = owner.attach(running)
            await anext(reader)
            await running.recorder.drain()
            started = time.perf_counter()
            await other.cancel("bench-user", running.id)
            async for event in reader:
                if event.kind == "done":
                    took.append((time.perf_counter() - started) * 1000)
    finally:
        listener.stopping = True
        for registry in (owner, other):
            await registry.upkeep.close()
        await redis.aclose()
    return Summary.of(took)


async def _server_usec(redis: aioredis.Redis) -> float:
    """CPU microseconds redis-server spent in commands so far (INFO commandstats)."""
    stats: dict[str, Any] = await redis.info("commandstats")
    return float(sum(v["usec"] for k, v in stats.items() if k != "cmdstat_info"))


def table(found: dict[str, Summary]) -> str:
    """The figures as a markdown table."""
    return "\n".join([
        "| resumable commands (python -m bench.commands) | result | target |",
        "| --- | --- | --- |",
        f"| redis-server CPU per command (event log, lease, record) | "
        f"{found['server'].mean:.3f} ms | <= 1 ms |",
        f"| wall time of the registry's Redis calls per command (off the live path) | "
        f"{found['redis'].text()} | |",
        f"| Redis calls per command (batched appends) | p50 {found['calls'].p50:.0f}, "
        f"p99 {found['calls'].p99:.0f} | |",
        f"| cancel from another instance -> `done cancelled` at the owner's reader | "
        f"{found['cancel'].text()} | <= 100 ms |",
        f"| registry start -> first event, local reader | {found['first'].text()} | "
        f"(part of the first event's {ms(5)}) |"])


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.commands")
    parser.add_argument("--commands", type=int, default=300)
    args = parser.parse_args()
    print(table(asyncio.run(measure(args.commands))))


if __name__ == "__main__":
    main()
