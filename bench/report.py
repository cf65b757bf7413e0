"""Turn the results into Markdown tables, with the targets beside the measurements."""

from __future__ import annotations

import datetime
import os
import platform
from pathlib import Path

from bench.measure import Plan, Results
from bench.profile import table as profile_table
from bench.stats import Summary, mean, ms


def machine() -> str:
    """One line about where this ran."""
    model = "unknown CPU"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            model = line.split(":", 1)[1].strip()
            break
    mem_kib = 0
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal"):
            mem_kib = int(line.split()[1])
    cores = len(os.sched_getaffinity(0))
    return (f"{cores} cores ({model}), {mem_kib / 1024 / 1024:.0f} GB RAM, Linux "
            f"{platform.release()}, Python {platform.python_version()}")


def _met(ok: bool) -> str:
    return "met" if ok else "**not met**"


def _mb(kib: int) -> str:
    return f"{kib / 1024:.0f} MB"


def made(values: list[float]) -> str:
    """When the server created the first event (its own timestamp), as a p50."""
    return f"created by the server after p50 {ms(Summary.of(values).p50)}"


def _row(*cells: str) -> str:
    return "| " + " | ".join(cells) + " |"


def table(r: Results, plan: Plan) -> str:
    """The main table: one row per measurement, target and verdict where there is one."""
    fe1, fe100 = Summary.of(r.first_event_1), Summary.of(r.first_event_100)
    burst, burst_total = Summary.of(r.first_event_burst), Summary.of(r.total_burst)
    slow, slow_total = Summary.of(r.first_event_slow), Summary.of(r.total_slow)
    e2e, e2e_json, direct = Summary.of(r.e2e_sse), Summary.of(r.e2e_json), Summary.of(r.e2e_direct)
    over, over_json = Summary.of(r.overhead_sse), Summary.of(r.overhead_json)
    over_direct = Summary.of(r.overhead_direct)
    total100 = Summary.of(r.total_100)
    ratio = e2e.p50 / direct.p50
    ratio_json = e2e_json.p50 / direct.p50
    per_command = r.llm_requests / r.server_commands if r.server_commands else float("nan")
    metric_ratio = (r.metrics_llm_requests / r.metrics_commands if r.metrics_commands
                    else float("nan"))
    mp, raw = Summary.of(r.audio_multipart), Summary.of(r.audio_raw)
    rows = [
        _row("measurement", "result", "target", "verdict"),
        _row("---", "---", "---", "---"),
        _row("(a) time to first SSE event, 1 stream", fe1.text(), "", ""),
        _row(f"(a) time to first SSE event, {plan.workers} concurrent streams sustained "
             "(closed loop)", f"{fe100.text()}; {made(r.made_100)}",
             "p50 <= 5 ms, p99 <= 25 ms", _met(fe100.p50 <= 5 and fe100.p99 <= 25)),
        _row(f"(a) whole command, {plan.workers} streams sustained",
             f"{total100.text()}; {r.throughput_100:.0f} commands/s", "", ""),
        _row(f"(a) time to first SSE event, {plan.workers} streams started at once "
             f"({plan.bursts} rounds)", f"{burst.text()}; {made(r.made_burst)}",
             "p50 <= 5 ms, p99 <= 25 ms", _met(burst.p50 <= 5 and burst.p99 <= 25)),
        _row(f"(a) whole command, {plan.workers} streams started at once", burst_total.text(),
             "", ""),
        _row(f"(a) time to first SSE event, {plan.workers} streams sustained (staggered), the "
             f"LLM taking {plan.slow_llm_s:g} s per answer (server not saturated)",
             f"{slow.text()}; {made(r.made_slow)}", "p50 <= 5 ms, p99 <= 25 ms",
             _met(slow.p50 <= 5 and slow.p99 <= 25)),
        _row(f"(a) whole command, the same (2 LLM answers of {plan.slow_llm_s:g} s)",
             slow_total.text(), "", ""),
        _row("(b) end-to-end single-tool command, SSE route", e2e.text(), "", ""),
        _row("(b) of which inside the fake LLM (2 requests) / the MCP tool",
             f"mean {ms(mean(r.llm_server_ms))} / {ms(mean(r.tool_server_ms))}", "", ""),
        _row("(b) orchestration overhead, SSE route", over.text(), "p50 <= 10 ms",
             _met(over.p50 <= 10)),
        _row("(b) orchestration overhead, JSON route", over_json.text(), "", ""),
        _row("(c) direct openai + mcp SDK baseline, same command", direct.text(), "", ""),
        _row("(c) the baseline's own overhead, same subtraction (the SDKs' client side)",
             over_direct.text(), "", ""),
        _row("(c) end-to-end / baseline (p50)",
             f"{ratio:.2f}x SSE, {ratio_json:.2f}x JSON", "<= 1.5x", _met(ratio <= 1.5)),
        _row("(c) what the server adds to the direct path (difference of the p50s)",
             f"{ms(e2e.p50 - direct.p50)} SSE, {ms(e2e_json.p50 - direct.p50)} JSON", "", ""),
        _row("(d) LLM requests per single-tool command",
             f"{per_command:.2f} ({r.llm_requests} for {r.server_commands} commands; "
             f"server's own counter: {metric_ratio:.2f})", "<= 2", _met(per_command <= 2)),
        _row("(d) MCP initialize / tools/list on the warm path",
             f"{r.mcp_handshakes} / {r.mcp_lists} (seen by the MCP server over "
             f"{r.mcp_calls} tools/call)", "0 / 0",
             _met(r.mcp_handshakes == 0 and r.mcp_lists == 0)),
        _row(f"(e) server RSS with {r.streams_held} open streams",
             f"{_mb(r.rss_open_kib)} (idle after warm-up {_mb(r.rss_idle_kib)}, "
             f"peak VmHWM {_mb(r.hwm_kib)})", "< 300 MB", _met(r.rss_open_kib < 300 * 1024)),
        _row(f"(f) upload-to-`transcribed` overhead, {r.audio_seconds:.1f} s clip, multipart",
             r.audio_skipped or mp.text(), "", ""),
        _row(f"(f) the same, raw `audio/wav` body ({r.audio_bytes // 1024} KiB)",
             r.audio_skipped or raw.text(), "", ""),
    ]
    return "\n".join(rows)


def breakdown(r: Results) -> str:
    """Where one sequential SSE command's time goes (means, ms)."""
    fields: dict[str, list[float]] = {}
    for done in r.done_fields:
        for key, value in done.items():
            fields.setdefault(key, []).append(value)
    rows = [_row("part of a single-tool command (SSE, 1 stream)", "mean"),
            _row("---", "---"),
            _row("client: request sent -> `done` received", ms(mean(r.e2e_sse))),
            _row("client: request sent -> first event", ms(mean(r.first_event_1)))]
    for key in ["totalExecutionTime", "timings.analyze", "timings.discover", "timings.plan",
                "timings.execute", "timings.summarize", "results[0].durationMs"]:
        if key in fields:
            rows.append(_row(f"server's done payload: `{key}` (whole ms)",
                             ms(mean(fields[key]))))
    rows += [_row("inside the fake LLM's handler, both requests", ms(mean(r.llm_server_ms))),
             _row("inside the MCP server's tools/call handler", ms(mean(r.tool_server_ms))),
             _row("direct baseline: whole command", ms(mean(r.e2e_direct))),
             _row("direct baseline: one chat request through the openai SDK",
                  ms(mean(r.direct_llm_ms))),
             _row("direct baseline: one `call_tool` through the mcp SDK",
                  ms(mean(r.direct_tool_ms))),
             _row("audio: the STT server's handler (5 s clip)", ms(mean(r.stt_ms))),
             _row("audio: client: upload start -> `transcribed`",
                  ms(mean(r.audio_transcribed)))]
    if r.children_kib:
        kids = ", ".join(f"{name} {_mb(kib)}" for name, kib in sorted(r.children_kib.items()))
        rows.append(_row("RSS of the server's children (not counted above)", kids))
    return "\n".join(rows)


def cpu(r: Results) -> str:
    """CPU time per command in each process, while 100 streams ran back to back."""
    rows = [_row("process (sustained 100-stream phase)", "CPU per command"), _row("---", "---")]
    rows += [_row(name, ms(value)) for name, value in r.cpu_per_command.items()]
    rows.append(_row("all of them", ms(sum(r.cpu_per_command.values()))))
    return "\n".join(rows)


def render(r: Results, plan: Plan, seconds: float, others_cpu_s: float,
           overrides: dict[str, str]) -> str:
    """The whole Markdown report."""
    stamp = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    cores = len(os.sched_getaffinity(0))
    noise = (f"Processes outside the benchmark used {others_cpu_s:.0f} CPU-seconds meanwhile "
             f"({others_cpu_s / (seconds * cores) * 100:.0f}% of the machine).")
    changed = (f" Server settings changed from the defaults: "
               f"{', '.join(f'`{k}={v}`' for k, v in overrides.items())}." if overrides else "")
    return (f"## Benchmark results\n\n{machine()}; {stamp}; the run took {seconds:.0f} s. "
            f"{noise}{changed}\n\n"
            f"{table(r, plan)}\n\n{breakdown(r)}\n\n{cpu(r)}\n"
            + (f"\n{profile_table(r.profile, r.profile_cpu_ms)}\n" if r.profile else ""))
