"""Two instances on a Redis Cluster against two on one Redis, and what a failover costs
(docs/operations.md, "Redis Cluster"); not part of `make test`.

    python -m bench cluster [--seconds 15] [--clients 16]

Same machine, same run: one redis-server, then six cluster nodes (three primaries, three
replicas, tests/redis_cluster.py), each with two `voice-mcp serve` processes and the fake
LLM answering at once. Closed-loop clients alternate between the instances and measure
commands per second and the first SSE event's latency. Then, with load still running on the
cluster, a manual failover (CLUSTER FAILOVER on a replica) and a killed primary: the failed
commands, their kinds, and how long from the fault to the last failure.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp

from bench.processes import LLMServer, llm_server, scratch_dir, voice_server
from bench.stats import percentile
from tests.redis_cluster import RedisClusterNodes, wait_for
from voice_mcp.services.auth import issue_dev_token
from voice_mcp.services.store import start_embedded_redis
from voice_mcp.settings import Settings

SSE = "/api/voice/llm/stream"
RESULTS = Path(__file__).resolve().parent / "results" / "cluster.md"


def say(message: str) -> None:
    print(f"bench: {message}", file=sys.stderr, flush=True)


@dataclass
class Load:
    """Closed-loop clients over the instances; every command's outcome, with its time."""

    urls: list[str]
    tokens: list[str]
    firsts: list[float] = field(default_factory=list)
    done: int = 0
    failures: list[tuple[float, str]] = field(default_factory=list)
    stop: asyncio.Event = field(default_factory=asyncio.Event)

    async def run(self, session: aiohttp.ClientSession, clients: int) -> None:
        await asyncio.gather(*(self._client(session, i) for i in range(clients)))

    async def _client(self, session: aiohttp.ClientSession, index: int) -> None:
        n = index
        while not self.stop.is_set():
            url = self.urls[n % len(self.urls)]
            token = self.tokens[n % len(self.tokens)]
            try:
                async with asyncio.timeout(30):
                    outcome = await self._one(session, url, token)
            except (TimeoutError, aiohttp.ClientError) as err:
                outcome = type(err).__name__
            if outcome:
                self.failures.append((time.monotonic(), outcome))
                await asyncio.sleep(0.05)  # a failing client backs off a little, like a real one
            n += 1

    async def _one(self, session: aiohttp.ClientSession, url: str, token: str) -> str:
        """'' on a completed command, else what went wrong (HTTP status or error code)."""
        started = time.perf_counter()
        async with session.post(url + SSE, json={"query": "list my notes"},
                                headers={"Authorization": f"Bearer {token}"}) as resp:
            if resp.status != 200:
                return f"HTTP {resp.status}"
            await resp.content.readuntil(b"\r\n\r\n")
            self.firsts.append((time.perf_counter() - started) * 1000)
            text = (await resp.read()).decode()
        finals = [line[5:] for line in text.splitlines() if line.startswith("data:")]
        done = json.loads(finals[-1]) if finals else {}
        if done.get("status") == "completed":
            self.done += 1
            return ""
        errors = [json.loads(line[5:]) for line in text.splitlines()
                  if line.startswith("data:") and '"retryable"' in line]
        code = errors[0].get("code") if errors else done.get("status", "no done")
        return f"event {code}"


@contextlib.asynccontextmanager
async def instances(llm: LLMServer, redis_url: str, cluster: bool) -> AsyncIterator[list[str]]:
    """Two `voice-mcp serve` processes on one Redis (or cluster), one JWT secret."""
    overrides = {"VOICE_MCP_REDIS_URL": redis_url, "VOICE_MCP_JWT_SECRET": "b" * 64,
                 "VOICE_MCP_REDIS_CLUSTER": "true" if cluster else "false"}
    with scratch_dir() as one, scratch_dir() as two:
        async with (voice_server(llm, Path(one), overrides) as a,
                    voice_server(llm, Path(two), overrides) as b):
            yield [a.url, b.url]


def tokens() -> list[str]:
    settings = Settings(_env_file=None, jwt_secret="b" * 64)
    return [issue_dev_token(settings, f"bench-{i}") for i in range(16)]


async def measure(llm: LLMServer, urls: list[str], clients: int, seconds: float) -> str:
    """A table row: commands/s and first-event p50/p99 over `seconds` of closed-loop load."""
    load = Load(urls, tokens())
    async with aiohttp.ClientSession() as session:
        await asyncio.wait_for(Load(urls, tokens())._one(session, urls[0], load.tokens[0]), 30)
        runner = asyncio.create_task(load.run(session, clients))
        started = time.monotonic()
        await asyncio.sleep(seconds)
        load.stop.set()
        await runner
    elapsed = time.monotonic() - started
    return (f"{load.done / elapsed:.0f} | {percentile(load.firsts, 50):.1f} | "
            f"{percentile(load.firsts, 99):.1f} | {len(load.failures)}")


async def fault(nodes: RedisClusterNodes, urls: list[str], clients: int, kind: str) -> str:
    """Load through one fault: failures, their kinds, and from the fault to the last one."""
    load = Load(urls, tokens())
    async with aiohttp.ClientSession() as session:
        runner = asyncio.create_task(load.run(session, clients))
        await asyncio.sleep(3)
        primary = nodes.primary_of("voice-mcp:command:{bench}:meta")
        replica = nodes.replica_of(primary)
        at = time.monotonic()
        if kind == "kill":
            primary.kill()
        else:
            with replica.client() as client:
                client.execute_command("CLUSTER FAILOVER")
        await asyncio.to_thread(wait_for, lambda: replica.role() == "master", 60, "no failover")
        promoted = time.monotonic() - at
        await asyncio.sleep(8)
        load.stop.set()
        await runner
    after = [(t - at, what) for t, what in load.failures if t >= at]
    kinds = sorted({what for _, what in after})
    window = f"{max(t for t, _ in after):.1f} s" if after else "-"
    return (f"{kind} | {promoted:.1f} s | {load.done} | {len(after)} | {window} | "
            f"{', '.join(kinds) or '-'}")


async def run(seconds: float, clients: int) -> str:
    rows, faults = [], []
    async with llm_server() as llm:
        say("two instances on one redis-server")
        single = await start_embedded_redis()
        try:
            async with instances(llm, single.url, cluster=False) as urls:
                rows.append(f"| one Redis | {await measure(llm, urls, clients, seconds)} |")
        finally:
            await single.stop()
        say("two instances on a six-node Redis Cluster")
        nodes = await asyncio.to_thread(RedisClusterNodes().start)
        try:
            async with instances(llm, nodes.url, cluster=True) as urls:
                rows.append(f"| Redis Cluster | {await measure(llm, urls, clients, seconds)} |")
                for kind in ("failover", "kill"):
                    say(f"load through a {kind}")
                    faults.append(f"| {await fault(nodes, urls, max(2, clients // 4), kind)} |")
        finally:
            await asyncio.to_thread(nodes.stop)
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    return "\n".join([
        f"# Redis Cluster (python -m bench cluster; {clients} clients, {seconds:g} s each)", "",
        f"Load average at the end: {load} on {os.cpu_count()} cores.", "",
        "| backend | commands/s | first event p50 ms | p99 ms | failed |",
        "|---|---|---|---|---|", *rows, "",
        "| fault | replica promoted after | completed | failed | last failure after "
        "| failures seen |", "|---|---|---|---|---|---|", *faults, ""])


def main(argv: list[str]) -> None:
    import argparse

    parser = argparse.ArgumentParser(prog="python -m bench cluster",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--clients", type=int, default=16)
    args = parser.parse_args(argv)
    report = asyncio.run(asyncio.wait_for(run(args.seconds, args.clients), 600))
    print(report)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(report)
    say(f"written to {RESULTS}")
