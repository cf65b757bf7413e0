"""The measurements, phase by phase, against a running voice server and fake LLM."""

from __future__ import annotations

import asyncio
import os
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from bench.audio import duration_s, make_clip, missing_tools, multipart
from bench.client import Connection, Timing, command_body, encode_request
from bench.direct import DirectAgent
from bench.llm_server import TOOL_NAME
from bench.processes import LLMServer, VoiceServer, children, cpu_ms, memory_kib
from bench.profile import Sampler, breakdown

SSE_ROUTE = "/api/voice/llm/stream"
JSON_ROUTE = "/api/voice/llm"
AUDIO_ROUTE = "/api/voice/audio/stream"
OPEN_BATCH = 50  # connections opened at once in the RSS phase, under the listen backlog


@dataclass(frozen=True)
class Plan:
    """How much to run; the defaults keep `make bench` near 1.5 minutes on 2 cores."""

    warmup: int = 20
    blocks: int = 6  # server and direct runs alternate in blocks, so drift hits both alike
    per_block: int = 40  # SSE commands and direct commands per block
    json_per_block: int = 20
    workers: int = 100
    per_worker: int = 5
    bursts: int = 3  # rounds of `workers` streams started at the same moment
    slow_llm_s: float = 2.0  # a realistic LLM: the server is not saturated by 100 streams
    slow_rounds: int = 2
    audio_runs: int = 25
    open_streams: int = 500

    def scaled(self, factor: float) -> Plan:
        def n(value: int) -> int:
            return max(2, round(value * factor))

        return Plan(warmup=n(self.warmup), blocks=self.blocks, per_block=n(self.per_block),
                    json_per_block=n(self.json_per_block), workers=self.workers,
                    per_worker=n(self.per_worker), bursts=n(self.bursts),
                    slow_llm_s=self.slow_llm_s, slow_rounds=self.slow_rounds,
                    audio_runs=n(self.audio_runs), open_streams=self.open_streams)


@dataclass
class Results:
    """Everything measured, in ms unless named otherwise."""

    first_event_1: list[float] = field(default_factory=list)
    first_event_100: list[float] = field(default_factory=list)  # closed loop, sustained
    total_100: list[float] = field(default_factory=list)
    throughput_100: float = 0.0
    cpu_per_command: dict[str, float] = field(default_factory=dict)  # ms, closed-loop phase
    first_event_burst: list[float] = field(default_factory=list)  # all started at once
    total_burst: list[float] = field(default_factory=list)
    first_event_slow: list[float] = field(default_factory=list)  # sustained, slow LLM
    # How long after the send the server created each first event (its `timestamp`).
    made_100: list[float] = field(default_factory=list)
    made_burst: list[float] = field(default_factory=list)
    made_slow: list[float] = field(default_factory=list)
    total_slow: list[float] = field(default_factory=list)
    e2e_sse: list[float] = field(default_factory=list)
    overhead_sse: list[float] = field(default_factory=list)
    e2e_json: list[float] = field(default_factory=list)
    overhead_json: list[float] = field(default_factory=list)
    e2e_direct: list[float] = field(default_factory=list)
    overhead_direct: list[float] = field(default_factory=list)  # the same subtraction
    direct_llm_ms: list[float] = field(default_factory=list)  # per chat request, via the SDK
    direct_tool_ms: list[float] = field(default_factory=list)  # per call_tool, via the SDK
    llm_server_ms: list[float] = field(default_factory=list)  # per SSE command, both requests
    tool_server_ms: list[float] = field(default_factory=list)  # per SSE command
    done_fields: list[dict[str, float]] = field(default_factory=list)  # per SSE command
    server_commands: int = 0  # commands that reached the server after the warm-up
    llm_requests: int = 0  # chat requests they caused, counted by the fake LLM
    metrics_llm_requests: float = 0.0  # the server's own counter, same window
    metrics_commands: float = 0.0
    mcp_handshakes: int = 0  # on the warm path, counted by the MCP server
    mcp_lists: int = 0
    mcp_calls: int = 0
    audio_skipped: str = ""  # why (f) did not run
    audio_bytes: int = 0
    audio_seconds: float = 0.0
    audio_multipart: list[float] = field(default_factory=list)  # to `transcribed`, minus STT
    audio_raw: list[float] = field(default_factory=list)
    audio_transcribed: list[float] = field(default_factory=list)  # raw time to `transcribed`
    stt_ms: list[float] = field(default_factory=list)
    rss_idle_kib: int = 0
    rss_open_kib: int = 0
    hwm_kib: int = 0
    children_kib: dict[str, int] = field(default_factory=dict)
    streams_held: int = 0
    first_event_open: list[float] = field(default_factory=list)
    profile: list[tuple[str, float]] = field(default_factory=list)  # component, share
    profile_cpu_ms: float = 0.0  # server CPU per command while sampled


class Control:
    """Read the fake LLM's and the MCP server's counters; flip the LLM into hanging."""

    def __init__(self, session: aiohttp.ClientSession, llm: LLMServer, server: VoiceServer):
        self._session = session
        self._llm = llm
        self._server = server

    async def _get(self, url: str) -> Any:
        async with self._session.get(url) as response:
            response.raise_for_status()
            return await response.json()

    async def llm(self, clear: bool = False) -> dict[str, Any]:
        return dict(await self._get(f"{self._llm.control}/stats{'?clear=1' if clear else ''}"))

    async def mcp(self, clear: bool = False, url: str | None = None) -> dict[str, Any]:
        """The MCP server's counters: the voice server's child, or the one at `url`."""
        url = url or self._server.mcp_stats_url
        return dict(await self._get(f"{url}{'?clear=1' if clear else ''}"))

    async def set_delay(self, seconds: float) -> None:
        async with self._session.post(f"{self._llm.control}/delay?s={seconds}") as response:
            response.raise_for_status()

    async def set_mode(self, mode: str) -> None:
        async with self._session.post(f"{self._llm.control}/mode/{mode}") as response:
            response.raise_for_status()

    async def wait_hanging(self, count: int) -> int:
        return int((await self._get(f"{self._llm.control}/wait-hanging?count={count}"))["hanging"])

    async def server_metrics(self) -> tuple[float, float]:
        """The server's own LLM request counter and completed commands, from /metrics."""
        async with self._session.get(f"{self._server.url}/metrics") as response:
            body = await response.text()
        llm = re.search(r"^voice_mcp_llm_requests_total (\S+)$", body, re.M)
        done = re.search(r'^voice_mcp_commands_total\{status="completed"\} (\S+)$', body, re.M)
        return (float(llm.group(1)) if llm else 0.0, float(done.group(1)) if done else 0.0)


def check(timing: Timing) -> Timing:
    """A measured command must really be the single-tool command, completed."""
    done = timing.done
    results = done.get("results") or []
    if done.get("status") != "completed" or len(results) != 1 or not results[0]["success"]:
        raise RuntimeError(f"unexpected command outcome: {done}")
    if f"{results[0]['service']}__{results[0]['tool']}" != TOOL_NAME:
        raise RuntimeError(f"the wrong tool ran: {results[0]}")
    return timing


@dataclass
class Bench:
    """One run: the processes, the connections, the plan, and what was found."""

    server: VoiceServer
    llm: LLMServer
    control: Control
    tokens: list[str]
    plan: Plan
    workdir: Path
    results: Results = field(default_factory=Results)
    _pool: list[Connection] = field(default_factory=list)  # one per concurrent worker

    @property
    def _address(self) -> tuple[str, int]:
        host, port = self.server.url.removeprefix("http://").split(":")
        return host, int(port)

    def request(self, route: str, user: int = 0, body: bytes | None = None,
                content_type: str = "application/json") -> bytes:
        host, port = self._address
        return encode_request(f"{host}:{port}", route, self.tokens[user % len(self.tokens)],
                              command_body() if body is None else body, content_type)

    async def connect(self) -> Connection:
        return await Connection.open(*self._address)

    async def close(self) -> None:
        await asyncio.gather(*(c.close() for c in self._pool))
        self._pool.clear()

    async def warm_up(self, agent: DirectAgent) -> None:
        """Open the MCP sessions, fill the tool cache and every connection pool."""
        self._pool = list(await asyncio.gather(*(self.connect()
                                                 for _ in range(self.plan.workers))))
        sse, json_request = self.request(SSE_ROUTE), self.request(JSON_ROUTE)
        for _ in range(self.plan.warmup):
            check(await self._pool[0].command(sse))
            check(await self._pool[0].command(json_request))
            await agent.command()
        agent.llm_ms.clear()
        agent.tool_ms.clear()
        await self._closed_loop(1)
        self.results.rss_idle_kib = memory_kib(self.server.process.pid)["VmRSS"]

    async def counters(self) -> dict[str, Any]:
        llm, mcp = await self.control.llm(), await self.control.mcp()
        metrics = await self.control.server_metrics()
        return {"chat": llm["chat_count"], "methods": mcp["methods"], "metrics": metrics}

    def count_warm_path(self, before: dict[str, Any], after: dict[str, Any]) -> None:
        """(d): what the commands after the warm-up cost on the LLM and MCP side."""
        r = self.results

        def delta(method: str) -> int:
            return int(after["methods"].get(method, 0) - before["methods"].get(method, 0))

        r.mcp_handshakes = delta("initialize") + delta("server/discover")
        r.mcp_lists = delta("tools/list")
        r.mcp_calls = delta("tools/call")
        r.metrics_llm_requests = after["metrics"][0] - before["metrics"][0]
        r.metrics_commands = after["metrics"][1] - before["metrics"][1]

    async def sequential(self, agent: DirectAgent) -> None:
        """(a) at 1 stream, (b) and (c): single commands, one at a time, in blocks."""
        r, conn = self.results, self._pool[0]
        sse, json_request = self.request(SSE_ROUTE), self.request(JSON_ROUTE)
        for _block in range(self.plan.blocks):
            timings = await self._timed_block(self.plan.per_block,
                                              lambda: conn.command(sse), r.overhead_sse)
            r.first_event_1 += [t.first_event_ms for t in timings]
            r.e2e_sse += [t.total_ms for t in timings]
            json_timings = await self._timed_block(self.plan.json_per_block,
                                                   lambda: conn.command(json_request),
                                                   r.overhead_json)
            r.e2e_json += [t.total_ms for t in json_timings]
            await self._direct_block(agent)
        r.direct_llm_ms, r.direct_tool_ms = list(agent.llm_ms), list(agent.tool_ms)

    async def _direct_block(self, agent: DirectAgent) -> None:
        """The baseline's commands, charged their LLM-server and tool time the same way."""
        count, r = self.plan.per_block, self.results
        await self.control.llm(clear=True)
        await self.control.mcp(clear=True, url=agent.mcp_stats_url)
        totals = [await agent.command() for _ in range(count)]
        chat = (await self.control.llm(clear=True))["chat_ms"]
        tools = (await self.control.mcp(clear=True, url=agent.mcp_stats_url))["tool_ms"]
        if len(chat) != 2 * count or len(tools) != count:
            raise RuntimeError(f"the baseline made {len(chat)} LLM requests and {len(tools)} "
                               f"tool calls for {count} commands")
        r.e2e_direct += totals
        r.overhead_direct += [total - chat[2 * i] - chat[2 * i + 1] - tools[i]
                              for i, total in enumerate(totals)]

    async def _timed_block(self, count: int, run: Callable[[], Awaitable[Timing]],
                           overheads: list[float]) -> list[Timing]:
        """Run `count` commands one by one and charge each its LLM-server and tool time.

        Commands run strictly one after another, so the fake LLM's and the MCP server's
        request lists line up with them: two chat requests and one tool run per command.
        """
        await self.control.llm(clear=True)
        await self.control.mcp(clear=True)
        chat_before = (await self.control.llm())["chat_count"]
        timings = [check(await run()) for _ in range(count)]
        llm, mcp = await self.control.llm(clear=True), await self.control.mcp(clear=True)
        chat, tools = llm["chat_ms"], mcp["tool_ms"]
        if len(chat) != 2 * count or len(tools) != count:
            raise RuntimeError(f"{count} commands made {len(chat)} LLM requests and "
                               f"{len(tools)} tool calls; expected {2 * count} and {count}")
        self.results.server_commands += count
        self.results.llm_requests += llm["chat_count"] - chat_before
        streamed = overheads is self.results.overhead_sse
        for i, timing in enumerate(timings):
            llm_ms, tool_ms = chat[2 * i] + chat[2 * i + 1], tools[i]
            overheads.append(timing.total_ms - llm_ms - tool_ms)
            if streamed:
                self.results.llm_server_ms.append(llm_ms)
                self.results.tool_server_ms.append(tool_ms)
                self.results.done_fields.append(_done_fields(timing.done))
        return timings

    async def _closed_loop(self, per_worker: int,
                           stagger_s: float = 0.0) -> tuple[list[Timing], float]:
        """Each worker sends commands back to back on its own connection.

        `stagger_s`: worker i starts i * stagger_s late, so arrivals spread evenly instead of
        coming in waves of `workers` (which is what the burst measurement is for).
        """
        out: list[Timing] = []

        async def worker(index: int) -> None:
            request = self.request(SSE_ROUTE, user=index)
            await asyncio.sleep(index * stagger_s)
            for _ in range(per_worker):
                out.append(check(await self._pool[index].command(request)))

        started = time.perf_counter()
        await asyncio.gather(*(worker(i) for i in range(self.plan.workers)))
        return out, time.perf_counter() - started

    def _processes(self) -> dict[str, int]:
        """Every process that does work for a command, by the name the report shows."""
        pids = {"voice-mcp server": self.server.process.pid}
        for pid, cmdline in children(self.server.process.pid):
            pids["redis-server" if "redis-server" in cmdline else "MCP server (stdio)"] = pid
        pids["fake LLM"] = self.llm.process.pid
        pids["load generator"] = os.getpid()
        return pids

    async def concurrent(self) -> None:
        """(a) at 100 concurrent streams: sustained (closed loop), then in bursts."""
        r = self.results
        chat_before = (await self.control.llm())["chat_count"]
        pids = self._processes()
        cpu_before = {name: cpu_ms(pid) for name, pid in pids.items()}
        timings, seconds = await self._closed_loop(self.plan.per_worker)
        r.cpu_per_command = {name: (cpu_ms(pid) - cpu_before[name]) / len(timings)
                             for name, pid in pids.items()}
        r.first_event_100 = [t.first_event_ms for t in timings]
        r.made_100 = [t.first_event_made_ms for t in timings]
        r.total_100 = [t.total_ms for t in timings]
        r.throughput_100 = len(timings) / seconds
        requests = [self.request(SSE_ROUTE, user=i) for i in range(self.plan.workers)]
        for _round in range(self.plan.bursts):
            burst = await asyncio.gather(*(conn.command(request)
                                           for conn, request in zip(self._pool, requests,
                                                                    strict=True)))
            r.first_event_burst += [check(t).first_event_ms for t in burst]
            r.made_burst += [t.first_event_made_ms for t in burst]
            r.total_burst += [t.total_ms for t in burst]
            timings += burst
        r.server_commands += len(timings)
        r.llm_requests += (await self.control.llm())["chat_count"] - chat_before

    async def slow_llm(self) -> None:
        """(a) once more at 100 sustained streams, with an LLM that takes its time."""
        r = self.results
        chat_before = (await self.control.llm())["chat_count"]
        await self.control.set_delay(self.plan.slow_llm_s)
        try:
            # One command takes two LLM answers: spread the starts over that time.
            stagger = 2 * self.plan.slow_llm_s / self.plan.workers
            timings, _seconds = await self._closed_loop(self.plan.slow_rounds, stagger)
        finally:
            await self.control.set_delay(0)
        r.first_event_slow = [t.first_event_ms for t in timings]
        r.made_slow = [t.first_event_made_ms for t in timings]
        r.total_slow = [t.total_ms for t in timings]
        r.server_commands += len(timings)
        r.llm_requests += (await self.control.llm())["chat_count"] - chat_before

    async def audio(self) -> None:
        """(f): a 5-second clip posted as multipart and as a raw body, time to `transcribed`."""
        r, conn = self.results, self._pool[0]
        if missing := missing_tools():
            r.audio_skipped = f"skipped: {', '.join(missing)} not installed"
            return
        clip = make_clip(self.workdir)
        r.audio_bytes, r.audio_seconds = len(clip), duration_s(self.workdir)
        form, form_type = multipart(clip)
        bodies = {"multipart": (form, form_type), "raw": (clip, "audio/wav")}
        for kind, (body, content_type) in bodies.items():
            request = self.request(AUDIO_ROUTE, body=body, content_type=content_type)
            await self.control.llm(clear=True)
            before = (await self.control.llm())["chat_count"]
            timings = [check(await conn.command(request)) for _ in range(self.plan.audio_runs)]
            llm = await self.control.llm(clear=True)
            stt = llm["transcription_ms"]
            if len(stt) != len(timings):
                raise RuntimeError(f"{len(timings)} uploads made {len(stt)} transcriptions")
            overheads = [t.marks["transcribed"] - s for t, s in zip(timings, stt, strict=True)]
            (r.audio_multipart if kind == "multipart" else r.audio_raw).extend(overheads)
            r.audio_transcribed += [t.marks["transcribed"] for t in timings]
            r.stt_ms += stt
            r.server_commands += len(timings)
            r.llm_requests += llm["chat_count"] - before

    async def profile(self, output: Path) -> None:
        """Sample the server with py-spy through another sustained 100-stream run."""
        pid = self.server.process.pid
        sampler = Sampler(pid, output)
        try:
            before = cpu_ms(pid)
            timings, _seconds = await self._closed_loop(self.plan.per_worker)
            self.results.profile_cpu_ms = (cpu_ms(pid) - before) / len(timings)
        finally:
            await asyncio.to_thread(sampler.stop)
        self.results.profile = breakdown(output)

    async def open_streams(self) -> None:
        """(e): hold many streams open (the LLM never answers) and read the server's RSS."""
        r = self.results
        await self.control.set_mode("hang")
        held: list[Connection] = []

        async def hold(index: int) -> None:
            conn = await self.connect()
            held.append(conn)
            r.first_event_open.append(await conn.first_event(self.request(SSE_ROUTE, index)))

        try:
            for start in range(0, self.plan.open_streams, OPEN_BATCH):
                count = min(OPEN_BATCH, self.plan.open_streams - start)
                await asyncio.gather(*(hold(start + i) for i in range(count)))
            r.streams_held = await self.control.wait_hanging(self.plan.open_streams)
            memory = memory_kib(self.server.process.pid)
            r.rss_open_kib, r.hwm_kib = memory["VmRSS"], memory["VmHWM"]
            for pid, cmdline in children(self.server.process.pid):
                name = "redis-server" if "redis-server" in cmdline else "MCP server (stdio)"
                r.children_kib[name] = r.children_kib.get(name, 0) + memory_kib(pid)["VmRSS"]
        finally:
            await asyncio.gather(*(conn.close() for conn in held))
            await self.control.set_mode("instant")


def _done_fields(done: dict[str, Any]) -> dict[str, float]:
    """The server's own view of one command: total, per-stage timings, the tool's duration."""
    fields = {f"timings.{k}": float(v) for k, v in (done.get("timings") or {}).items()}
    fields["totalExecutionTime"] = float(done.get("totalExecutionTime", 0))
    results = done.get("results") or []
    if results:
        fields["results[0].durationMs"] = float(results[0].get("durationMs", 0))
    return fields
