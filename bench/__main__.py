"""Run the benchmark: start the fake LLM and voice-mcp, measure, print and save the table.

The voice server runs as its own process (`python -m voice_mcp serve`), so the load
generator in this process never shares its event loop; the fake LLM runs in a third
process, and the MCP notes server is the voice server's stdio child. Everything listens on
loopback only, every loop is bounded, and the processes are stopped on the way out.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

import aiohttp

from bench import cli_startup, commands, listen, local_intents, tracing, tracing_inprocess
from bench.direct import direct_agent
from bench.discovery_eval import report as discovery_report
from bench.measure import Bench, Control, Plan
from bench.processes import (
    cpu_ms,
    llm_server,
    machine_busy_ms,
    scratch_dir,
    tree_cpu_ms,
    voice_server,
)
from bench.report import render
from voice_mcp.services.auth import issue_dev_token
from voice_mcp.settings import Settings

RESULTS = Path(__file__).resolve().parent / "results" / "latest.md"
USERS = 10
RUN_TIMEOUT_S = 600  # a wedged run stops by itself


def say(message: str) -> None:
    print(f"bench: {message}", file=sys.stderr, flush=True)


async def run(plan: Plan, overrides: dict[str, str], profile: bool) -> str:
    started = time.perf_counter()
    busy_before, own_before = machine_busy_ms(), cpu_ms(os.getpid())
    with scratch_dir() as scratch:
        workdir = Path(scratch)
        async with llm_server() as llm, voice_server(llm, workdir, overrides) as server:
            say(f"voice-mcp pid {server.process.pid} on {server.url}; fake LLM {llm.base_url}")
            settings = Settings(_env_file=None, jwt_secret=server.jwt_secret)
            tokens = [issue_dev_token(settings, f"bench-{i}") for i in range(USERS)]
            async with (aiohttp.ClientSession() as control_session,
                        direct_agent(llm.base_url) as agent):
                bench = Bench(server=server, llm=llm, tokens=tokens, plan=plan,
                              control=Control(control_session, llm, server), workdir=workdir)
                try:
                    say("warming up")
                    await bench.warm_up(agent)
                    before = await bench.counters()
                    say("(a) 1 stream, (b) and (c): sequential commands, server and direct")
                    await bench.sequential(agent)
                    say(f"(a) {plan.workers} concurrent streams")
                    await bench.concurrent()
                    say(f"(a) {plan.workers} streams, the LLM answering in {plan.slow_llm_s:g} s")
                    await bench.slow_llm()
                    say("(f) 5-second uploads")
                    await bench.audio()
                    bench.count_warm_path(before, await bench.counters())
                    if profile:
                        say("profile: 100 streams sustained, the server sampled by py-spy")
                        await bench.profile(RESULTS.with_name("profile.txt"))
                    say(f"(e) {plan.open_streams} open streams")
                    await bench.open_streams()
                finally:
                    await bench.close()
                # Before the baseline's MCP child leaves: the tree's CPU includes it.
                ours = tree_cpu_ms([os.getpid(), server.process.pid, llm.process.pid])
                others = machine_busy_ms() - busy_before - (ours - own_before)
        return render(bench.results, plan, time.perf_counter() - started, others / 1000,
                      overrides)


async def bounded(work: Coroutine[Any, Any, str]) -> str:
    async with asyncio.timeout(RUN_TIMEOUT_S):
        return await work


def main() -> None:
    if sys.argv[1:2] in (["soak"], ["throughput"]):  # docs/operations.md, "Soak and load"
        from bench.ops import main as ops_main

        ops_main(sys.argv[1:])
        return
    if sys.argv[1:2] == ["cli"]:  # client start-up only (bench/cli_startup.py)
        cli_startup.main()
        return
    if sys.argv[1:2] == ["cluster"]:  # docs/operations.md, "Redis Cluster"
        from bench.cluster import main as cluster_main

        cluster_main(sys.argv[2:])
        return
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0,
                        help="multiply the number of commands (0.2 for a quick look)")
    parser.add_argument("--set", action="append", default=[], metavar="VAR=VALUE",
                        help="an extra server setting, e.g. VOICE_MCP_LLM_STREAM=false")
    parser.add_argument("--profile", action="store_true",
                        help="also sample the server with py-spy under load (pip install py-spy)")
    parser.add_argument("--local-spoken", type=int, default=0, metavar="N",
                        help="also speak N template sentences to the offline recogniser "
                             "(bench/local_intents.py; minutes)")
    args = parser.parse_args()
    overrides = dict(item.split("=", 1) for item in args.set)
    if overrides:
        say(f"server settings changed: {overrides}")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    report = asyncio.run(bounded(run(Plan().scaled(args.scale), overrides, args.profile)))
    say("resumable commands: Redis cost per command, cross-instance cancel")
    found = asyncio.run(commands.measure(max(50, int(300 * args.scale))))
    report = f"{report.rstrip()}\n\n{commands.table(found)}\n"
    rounds = max(50, int(200 * args.scale))
    say("local commands: sentence templates over HTTP, no LLM (bench/local_intents.py)")
    local = asyncio.run(local_intents.measure(args.local_spoken, rounds))
    report += "\n" + local_intents.table(local, rounds)
    say("listen socket: streamed speech, real time (bench/listen.py)")
    report += "\n" + listen.table(*asyncio.run(listen.measure(10, 20)))
    say("client start-up: ask and token (bench/cli_startup.py)")
    report += "\n" + cli_startup.table(asyncio.run(cli_startup.measure()))
    say("traces: a command with tracing on vs off (bench/tracing.py)")
    report += "\n" + tracing.table(asyncio.run(tracing.measure(rounds)), rounds)
    report += tracing_inprocess.table(asyncio.run(tracing_inprocess.measure(rounds)), rounds)
    say("tool discovery evaluation (bench/discovery_eval.py)")
    report += "\n# Tool discovery (python -m bench.discovery_eval)\n\n" + discovery_report()
    print(report)
    RESULTS.write_text(report)
    say(f"written to {RESULTS}")


if __name__ == "__main__":
    main()
