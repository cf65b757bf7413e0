"""Evaluate tool discovery: recall of the right tools, prompt size, and ranking time.

Run: `python -m bench.discovery_eval` (add `--json` for machine-readable output).
The catalog (bench/.cache/discovery_catalog.json, git-ignored) holds the tool lists of real MCP
servers installed from npm and PyPI; `python -m bench.build_catalog` builds it, and this
evaluation builds it first when it is missing. The queries (bench/data/discovery_queries.json)
are ours, labelled by hand.
Prompt tokens are approximated as UTF-8 bytes / 4 of the `tools` JSON sent to the LLM
(OpenAI's rule of thumb for English; no tokenizer here works without a download).
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.build_catalog import ensure_catalog
from voice_mcp.services.llm.prompts import ASK_USER_TOOL
from voice_mcp.services.llm.tool_names import ToolSet
from voice_mcp.services.mcp.models import ToolInfo
from voice_mcp.services.tool_index import (
    SEARCH_TOOLS_TOOL,
    ToolIndexCache,
    ToolRanker,
    choose_offer,
)
from voice_mcp.services.tool_index.index import forget_tokens
from voice_mcp.services.tool_index.ranker import RankingOptions

DATA = Path(__file__).resolve().parent / "data"
BUDGET = 32
SIZES = (300, 2000)
CROSS_LINGUAL = "xl"  # a request in another language than its tool's description
SUFFIXES = ("work", "home", "team", "lab", "eu", "us", "staging", "personal")


@dataclass(frozen=True)
class Query:
    text: str
    lang: str
    split: str
    expect: tuple[frozenset[str], ...]  # groups of `service.tool`; any member meets a group


def load_catalog(path: Path | None = None) -> tuple[list[ToolInfo], dict[str, str]]:
    """The catalog's tools and each service's title (built first if the cache has none)."""
    data = json.loads((path or ensure_catalog()).read_text(encoding="utf-8"))
    tools: list[ToolInfo] = []
    titles: dict[str, str] = {}
    for service in data["services"]:
        titles[service["id"]] = service["title"]
        tools.extend(ToolInfo(service=service["id"], name=t["name"], title=t.get("title"),
                              description=t.get("description", ""),
                              input_schema=t["inputSchema"],
                              output_schema=t.get("outputSchema")) for t in service["tools"])
    return tools, titles


def load_queries(path: Path = DATA / "discovery_queries.json") -> list[Query]:
    data = json.loads(path.read_text(encoding="utf-8"))
    return [Query(q["query"], q["lang"], q["split"], tuple(frozenset(g) for g in q["expect"]))
            for q in data["queries"]]


def replicate(tools: Sequence[ToolInfo], titles: dict[str, str], size: int
              ) -> tuple[list[ToolInfo], dict[str, str]]:
    """`size` tools: the catalog, then copies under other service names (`git-work`, ...)."""
    out, out_titles = list(tools[:size]), dict(titles)
    copy = 0
    while len(out) < size:
        suffix = SUFFIXES[copy % len(SUFFIXES)]
        for tool in tools:
            if len(out) >= size:
                break
            service = f"{tool.service}-{suffix}"
            out_titles[service] = f"{titles.get(tool.service, tool.service)} ({suffix})"
            out.append(tool.model_copy(update={"service": service}))
        copy += 1
    return out, out_titles


def original(name: str) -> str:
    """`git-work.git_status` -> `git.git_status`: a copy answers what its original answers."""
    service, tool = name.split(".", 1)
    for suffix in SUFFIXES:
        if service.endswith(f"-{suffix}"):
            return f"{service[: -len(suffix) - 1]}.{tool}"
    return name


def answerable(queries: Sequence[Query], present: set[str]) -> list[Query]:
    """The queries whose every expected group has a tool in this catalog."""
    return [q for q in queries if all(group & present for group in q.expect)]


def recall(found: Sequence[str], query: Query) -> float:
    names = {original(n) for n in found}
    return sum(1 for group in query.expect if group & names) / len(query.expect)


def prompt_tokens(tools: Sequence[dict[str, Any]]) -> float:
    return len(json.dumps(tools, ensure_ascii=False).encode()) / 4


def evaluate(tools: list[ToolInfo], titles: dict[str, str], queries: list[Query],
             budget: int, options: RankingOptions | None = None) -> dict[str, Any]:
    """Recall@5/@10/@offered by split and language, prompt tokens, ranking times."""
    cache = ToolIndexCache()
    ranker = ToolRanker(options=options)
    forget_tokens()
    started = time.perf_counter()
    index = cache.get(tools, titles)
    build_ms = (time.perf_counter() - started) * 1000
    all_tools = [*ToolSet(tools).openai_tools, ASK_USER_TOOL]
    rows: dict[str, list[tuple[float, float, float]]] = {}
    times, offered_tokens = [], []
    present = {original(t.qualified_name) for t in tools}
    for query in answerable(queries, present):
        started = time.perf_counter()
        index = cache.get(tools, titles)  # what a warm request does: an identity lookup
        ranked = ranker.lexical(index, query.text, budget)
        offer = choose_offer(index.tools, ranked, budget)
        times.append((time.perf_counter() - started) * 1000)
        names = [t.qualified_name for t in offer.tools]
        scores = (recall(names[:5], query), recall(names[:10], query), recall(names, query))
        keys = [f"{query.split}:{query.lang}", f"all:{query.lang}"]
        if query.lang != CROSS_LINGUAL:
            keys += [f"{query.split}:same-language", "all:same-language"]
        for key in keys:
            rows.setdefault(key, []).append(scores)
        offered = [*ToolSet(offer.tools).openai_tools, SEARCH_TOOLS_TOOL, ASK_USER_TOOL]
        offered_tokens.append(prompt_tokens(offered))
    return {
        "tools": len(tools), "services": len({t.service for t in tools}), "budget": budget,
        "index_build_ms": round(build_ms, 1), "index_builds": cache.builds,
        "discover_ms": {"p50": round(statistics.median(times), 3),
                        "p95": round(sorted(times)[int(len(times) * 0.95)], 3)},
        "prompt_tokens": {"all": round(prompt_tokens(all_tools)),
                          "offered_mean": round(statistics.fmean(offered_tokens))},
        "recall": {key: {"n": len(v),
                         "at5": round(statistics.fmean(r[0] for r in v), 3),
                         "at10": round(statistics.fmean(r[1] for r in v), 3),
                         "offered": round(statistics.fmean(r[2] for r in v), 3)}
                   for key, v in sorted(rows.items())},
    }


def render(results: list[dict[str, Any]]) -> str:
    lines = []
    for r in results:
        tokens = r["prompt_tokens"]
        lines.append(f"## {r['tools']} tools, {r['services']} services, budget {r['budget']}")
        lines.append(f"index build {r['index_build_ms']} ms; discover p50 "
                     f"{r['discover_ms']['p50']} ms, p95 {r['discover_ms']['p95']} ms")
        lines.append(f"prompt tokens per request: all tools {tokens['all']}, offered "
                     f"{tokens['offered_mean']} ({tokens['all'] / tokens['offered_mean']:.1f}x "
                     f"fewer)")
        lines.append("| queries | n | recall@5 | recall@10 | recall@offered |")
        lines.append("|---|---|---|---|---|")
        for key, row in r["recall"].items():
            lines.append(f"| {key} | {row['n']} | {row['at5']} | {row['at10']} | "
                         f"{row['offered']} |")
        lines.append("")
    return "\n".join(lines)


def report(budget: int = BUDGET) -> str:
    """The evaluation as Markdown tables: the catalog, then 300 and 2,000 tools."""
    tools, titles = load_catalog()
    queries = load_queries()
    results = [evaluate(tools, titles, queries, budget)]
    for size in SIZES:
        sized, sized_titles = replicate(tools, titles, size)
        results.append(evaluate(sized, sized_titles, queries, budget))
    return render(results)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.discovery_eval",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print JSON instead of tables")
    parser.add_argument("--budget", type=int, default=BUDGET)
    args = parser.parse_args()
    tools, titles = load_catalog()
    queries = load_queries()
    results = [evaluate(tools, titles, queries, args.budget)]
    for size in SIZES:
        sized, sized_titles = replicate(tools, titles, size)
        results.append(evaluate(sized, sized_titles, queries, args.budget))
    print(json.dumps(results, indent=1) if args.json else render(results))


if __name__ == "__main__":
    main()
