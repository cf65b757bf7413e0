"""Operations benchmarks (docs/operations.md, "Soak and load"); not part of `make test`.

    python -m bench soak --minutes 20 [--rate 4] [--workers 1]
    python -m bench throughput [--workers 1,2,4] [--seconds 20] [--clients 32]

`soak` sends a steady mix of commands (SSE and JSON text, 5-second audio uploads, commands
held for a confirmation then approved or declined, streams dropped after their first event
and followed to the end by command id) and samples, every `--every` seconds, the
RSS of the server's process tree, its open file descriptors, Redis's used memory and the
errors so far. `throughput` measures commands/s with N closed-loop clients at each worker
count, then first-event p50/p99 for open-loop (Poisson) arrivals at 50% and 90% of that.
The fake LLM answers instantly in its own process; everything is on loopback.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import random
import re
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp

from bench.audio import make_clip, missing_tools, multipart
from bench.client import Connection, command_body, encode_request
from bench.processes import (
    LLMServer,
    VoiceServer,
    children,
    llm_server,
    memory_kib,
    scratch_dir,
    voice_server,
)
from bench.stats import percentile
from voice_mcp.client.sse import SseEvent, SseParser
from voice_mcp.services.auth import issue_dev_token
from voice_mcp.settings import Settings

RESULTS = Path(__file__).resolve().parent / "results"
# elapsed s, tree RSS MiB, server-processes RSS MiB, server fds, Redis used MiB, errors
Sample = tuple[float, float, float, int, float, int]
SSE = "/api/voice/llm/stream"


def say(message: str) -> None:
    print(f"bench: {message}", file=sys.stderr, flush=True)


def tree(pid: int) -> list[int]:
    """A process and all its descendants."""
    found = [pid]
    for child, _ in children(pid):
        found.extend(tree(child))
    return found


def tree_rss_mib(pid: int, only: bytes = b"") -> float:
    """RSS of the process tree, or of its members whose command line contains `only`."""
    total = 0
    for member in tree(pid):
        with contextlib.suppress(OSError):
            if only in Path(f"/proc/{member}/cmdline").read_bytes():
                total += memory_kib(member).get("VmRSS", 0)
    return total / 1024


def open_fds(pid: int) -> int:
    """File descriptors open in the server processes (not redis-server, not MCP children)."""
    count = 0
    for member in tree(pid):
        cmdline = Path(f"/proc/{member}/cmdline").read_bytes()
        if b"voice_mcp" in cmdline:
            with contextlib.suppress(OSError):
                count += len(list(Path(f"/proc/{member}/fd").iterdir()))
    return count


def redis_url(pid: int) -> str | None:
    """The embedded redis-server's URL: its port from its command line, its password from
    the private config file in its working directory (readable by this same account)."""
    for member in tree(pid):
        with contextlib.suppress(OSError):
            cmdline = Path(f"/proc/{member}/cmdline").read_bytes().replace(b"\0", b" ").decode()
            if "redis-server" in cmdline and (found := re.search(r":(\d+)", cmdline)):
                config = (Path(f"/proc/{member}/cwd") / "redis.conf").read_text()
                password = config.split("requirepass", 1)[1].split()[0]
                return f"redis://:{password}@127.0.0.1:{found.group(1)}/0"
    return None


async def redis_used_mib(url: str | None) -> float:
    if url is None:
        return float("nan")
    import redis.asyncio as aioredis

    client = aioredis.Redis.from_url(url)
    try:
        info = await client.info("memory")
        return float(info["used_memory"]) / 2**20
    finally:
        await client.aclose()


@contextlib.asynccontextmanager
async def stack(workers: int, workdir: Path) -> AsyncIterator[tuple[LLMServer, VoiceServer]]:
    """The fake LLM and `voice-mcp serve --workers N`, every worker listening."""
    overrides = {"VOICE_MCP_WORKERS": str(workers)}  # logging at its default level, INFO
    async with llm_server() as llm, voice_server(llm, workdir, overrides) as server:
        await _all_listening(server, workers)
        yield llm, server


async def _all_listening(server: VoiceServer, workers: int) -> None:
    """Wait (bounded) until each worker wrote its "listening" line to the shared log."""
    async with asyncio.timeout(120):
        for _ in iter(int, 1):
            if server.log_path.read_text(errors="replace").count("listening on") >= workers:
                return
            await asyncio.sleep(0.2)


# ---------------------------------------------------------------------------------------------
# Soak


@dataclass
class Soak:
    server: VoiceServer
    session: aiohttp.ClientSession
    tokens: list[str]
    audio: tuple[bytes, str] | None
    sent: int = 0
    errors: list[str] = field(default_factory=list)
    kinds: dict[str, int] = field(default_factory=dict)

    def _auth(self, n: int) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[n % len(self.tokens)]}"}

    async def one(self, n: int) -> None:
        kind = ("sse", "json", "resume", "confirm", "audio", "sse", "json", "confirm")[n % 8]
        if kind == "audio" and self.audio is None:
            kind = "sse"
        self.kinds[kind] = self.kinds.get(kind, 0) + 1
        try:
            async with asyncio.timeout(90):
                await getattr(self, f"_{kind}")(n)
        except Exception as err:  # every failure is counted and shown, the soak goes on
            self.errors.append(f"{kind}: {type(err).__name__}: {str(err)[:200]}")

    async def _post(self, path: str, n: int, headers: dict[str, str] | None = None,
                    **kwargs: object) -> dict[str, object]:
        async with self.session.post(self.server.url + path,
                                     headers={**self._auth(n), **(headers or {})},
                                     **kwargs) as resp:  # type: ignore[arg-type]
            text = await resp.text()
            if resp.status != 200:
                raise RuntimeError(f"HTTP {resp.status}: {text[:200]}")
        done = _events(text)[-1].json() if path.endswith("/stream") else json.loads(text)
        if done.get("status") not in ("completed", "confirmation_required", "cancelled"):
            raise RuntimeError(f"status {done.get('status')}: {done.get('error')}")
        return done  # type: ignore[no-any-return]

    async def _sse(self, n: int) -> None:
        await self._post(SSE, n, json={"query": "list my notes"})

    async def _json(self, n: int) -> None:
        await self._post("/api/voice/llm", n, json={"query": "list my notes"})

    async def _audio(self, n: int) -> None:
        assert self.audio is not None
        body, content_type = self.audio
        await self._post("/api/voice/audio", n, data=body,
                         headers={"Content-Type": content_type})

    async def _resume(self, n: int) -> None:
        """Start a stream, drop it after the first event, follow the rest by command id."""
        async with self.session.post(self.server.url + SSE, headers=self._auth(n),
                                     json={"query": "list my notes"}) as resp:
            first = await resp.content.readuntil(b"\r\n\r\n")
        command_id = _events(first.decode())[0].json()["commandId"]
        url = f"{self.server.url}/api/voice/commands/{command_id}/events"
        async with self.session.get(url, headers={**self._auth(n), "Last-Event-ID": "1"}) as resp:
            text = await resp.text()
            if resp.status != 200:
                raise RuntimeError(f"resume: HTTP {resp.status}: {text[:200]}")
        done = _events(text)[-1].json()
        if done.get("status") != "completed":
            raise RuntimeError(f"resumed command ended {done.get('status')}")

    async def _confirm(self, n: int) -> None:
        held = await self._post("/api/voice/llm", n, json={"query": "delete note 1"})
        confirmation = held.get("confirmation")
        if not isinstance(confirmation, dict):
            raise RuntimeError(f"no confirmation: {held.get('status')}")
        await self._post("/api/voice/confirm", n, json={
            "confirmationId": confirmation["confirmationId"], "approved": n % 16 == 3})


def _events(body: str) -> list[SseEvent]:
    """Every event of a whole SSE body, read by the client's parser."""
    return [item for item in SseParser().feed(body.encode()) if isinstance(item, SseEvent)]


async def soak(minutes: float, rate: float, every_s: float, workers: int) -> str:
    with scratch_dir() as scratch:
        workdir = Path(scratch)
        audio = None if missing_tools() else multipart(make_clip(workdir))
        async with stack(workers, workdir) as (_llm, server), aiohttp.ClientSession() as session:
            secret = Settings(_env_file=None, jwt_secret=server.jwt_secret)
            tokens = [issue_dev_token(secret, f"soak-{i}") for i in range(20)]
            run = Soak(server, session, tokens, audio)
            samples = await _soak_loop(run, minutes * 60, rate, every_s)
            return _soak_report(run, samples, minutes, rate, workers)


async def _soak_loop(run: Soak, seconds: float, rate: float,
                     every_s: float) -> list[Sample]:
    pid, url = run.server.process.pid, redis_url(run.server.process.pid)
    samples: list[Sample] = []
    tasks: set[asyncio.Task[None]] = set()
    started = time.monotonic()
    next_sample = 0.0
    n = 0
    while (elapsed := time.monotonic() - started) < seconds:
        if elapsed >= next_sample:
            samples.append(await _sample(elapsed, pid, url, len(run.errors)))
            say(f"{elapsed / 60:5.1f} min: rss {samples[-1][1]:.1f} MiB (server "
                f"{samples[-1][2]:.1f}), fds {samples[-1][3]}, redis {samples[-1][4]:.2f} MiB, "
                f"sent {n}, errors {len(run.errors)}")
            next_sample += every_s
        task = asyncio.create_task(run.one(n))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
        n += 1
        await asyncio.sleep(max(0.0, started + n / rate - time.monotonic()))
    await asyncio.gather(*tasks)
    run.sent = n
    samples.append(await _sample(time.monotonic() - started, pid, url, len(run.errors)))
    return samples


async def _sample(elapsed: float, pid: int, url: str | None, errors: int) -> Sample:
    return (elapsed, tree_rss_mib(pid), tree_rss_mib(pid, b"voice_mcp"), open_fds(pid),
            await redis_used_mib(url), errors)


def _soak_report(run: Soak, samples: list[Sample],
                 minutes: float, rate: float, workers: int) -> str:
    warm = next((s for s in samples if s[0] >= min(60.0, minutes * 60 / 4)), samples[0])
    end = samples[-1]
    growth = (end[1] - warm[1]) / warm[1] * 100
    server_growth = (end[2] - warm[2]) / warm[2] * 100
    lines = [f"## Soak: {minutes:g} min at {rate:g} commands/s, {workers} worker(s)", "",
             f"Commands sent: {run.sent} ({', '.join(f'{k} {v}' for k, v in run.kinds.items())})"
             f"; errors: {len(run.errors)}.", "",
             f"RSS of the server tree (server, redis-server, MCP child) after warm-up "
             f"({warm[0] / 60:.1f} min) {warm[1]:.1f} MiB, at the end {end[1]:.1f} MiB: "
             f"growth {growth:+.1f}%; the server processes alone {warm[2]:.1f} -> "
             f"{end[2]:.1f} MiB, {server_growth:+.1f}%.", "",
             "| minute | tree RSS MiB | server RSS MiB | server fds | Redis used MiB | errors |",
             "|---:|---:|---:|---:|---:|---:|"]
    lines += [f"| {t / 60:.1f} | {rss:.1f} | {own:.1f} | {fds} | {mem:.2f} | {errs} |"
              for t, rss, own, fds, mem, errs in samples]
    lines += ["", *[f"- {e}" for e in run.errors[:10]]]
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------------------------
# Throughput


@dataclass
class Load:
    server: VoiceServer
    tokens: list[str]

    def request(self, n: int) -> bytes:
        host = self.server.url.removeprefix("http://")
        return encode_request(host, SSE, self.tokens[n % len(self.tokens)], command_body())

    @property
    def address(self) -> tuple[str, int]:
        host, port = self.server.url.removeprefix("http://").split(":")
        return host, int(port)

    async def closed_loop(self, clients: int, seconds: float) -> float:
        """Commands/s with `clients` connections each sending one command after another."""
        done = 0
        stop_at = time.monotonic() + seconds

        async def client(index: int) -> None:
            nonlocal done
            conn = await Connection.open(*self.address)
            try:
                while time.monotonic() < stop_at:
                    timing = await conn.command(self.request(index))
                    if timing.done.get("status") != "completed":
                        raise RuntimeError(f"command ended {timing.done.get('status')}")
                    done += 1
            finally:
                await conn.close()

        started = time.monotonic()
        await asyncio.gather(*(client(i) for i in range(clients)))
        return done / (time.monotonic() - started)

    async def open_loop(self, rate: float, seconds: float) -> list[float]:
        """First-event ms for Poisson arrivals at `rate`/s, each on a fresh connection."""
        firsts: list[float] = []
        rng = random.Random(16)

        async def one(n: int) -> None:
            conn = await Connection.open(*self.address)
            try:
                timing = await conn.command(self.request(n))
                firsts.append(timing.first_event_ms)
            finally:
                await conn.close()

        tasks = []
        at = time.monotonic()
        stop_at = at + seconds
        n = 0
        while at < stop_at:
            await asyncio.sleep(max(0.0, at - time.monotonic()))
            tasks.append(asyncio.create_task(one(n)))
            n += 1
            at += rng.expovariate(rate)
        await asyncio.gather(*tasks)
        return firsts


async def throughput(worker_counts: list[int], seconds: float, clients: int) -> str:
    lines = [f"## Throughput: single-tool SSE commands, fake LLM instant, {clients} closed-loop "
             f"clients for {seconds:g} s; then open-loop Poisson arrivals for {seconds:g} s",
             "", "| workers | commands/s | first event at 50% p50 / p99 | "
             "first event at 90% p50 / p99 |", "|---:|---:|---|---|"]
    for workers in worker_counts:
        with scratch_dir() as scratch:
            async with stack(workers, Path(scratch)) as (_llm, server):
                secret = Settings(_env_file=None, jwt_secret=server.jwt_secret)
                load = Load(server, [issue_dev_token(secret, f"load-{i}") for i in range(50)])
                say(f"{workers} worker(s): warming up")
                await load.closed_loop(clients, min(5.0, seconds))
                capacity = await load.closed_loop(clients, seconds)
                say(f"{workers} worker(s): {capacity:.1f} commands/s")
                cells = []
                for share in (0.5, 0.9):
                    firsts = await load.open_loop(capacity * share, seconds)
                    cells.append(f"{percentile(firsts, 50):.1f} / {percentile(firsts, 99):.1f} "
                                  f"ms (n={len(firsts)})")
                    say(f"{workers} worker(s) at {share:.0%}: {cells[-1]}")
                lines.append(f"| {workers} | {capacity:.1f} | {cells[0]} | {cells[1]} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    soak_args = commands.add_parser("soak", help="steady mixed load; memory, fds, errors")
    soak_args.add_argument("--minutes", type=float, default=20.0)
    soak_args.add_argument("--rate", type=float, default=4.0, help="commands per second")
    soak_args.add_argument("--every", type=float, default=30.0, help="seconds between samples")
    soak_args.add_argument("--workers", type=int, default=1)
    load_args = commands.add_parser("throughput", help="commands/s and first-event latency")
    load_args.add_argument("--workers", default="1,2,4", help="worker counts, comma-separated")
    load_args.add_argument("--seconds", type=float, default=20.0)
    load_args.add_argument("--clients", type=int, default=32)
    args = parser.parse_args(argv)
    RESULTS.mkdir(parents=True, exist_ok=True)
    if args.command == "soak":
        report = asyncio.run(soak(args.minutes, args.rate, args.every, args.workers))
    else:
        counts = [int(c) for c in args.workers.split(",")]
        report = asyncio.run(throughput(counts, args.seconds, args.clients))
    print(report)
    (RESULTS / f"{args.command}.md").write_text(report)
    say(f"written to {RESULTS / (args.command + '.md')}")
