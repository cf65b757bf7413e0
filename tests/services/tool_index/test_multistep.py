"""Ranking for multi-step requests: richer documents, server siblings, steps of a request."""

from __future__ import annotations

import numpy as np
import pytest

from tests.services.tool_index.conftest import tool
from voice_mcp.services.mcp.models import ToolInfo
from voice_mcp.services.tool_index import ToolIndex, ToolRanker
from voice_mcp.services.tool_index.clauses import MAX_CLAUSES, split_clauses
from voice_mcp.services.tool_index.documents import tool_tokens
from voice_mcp.services.tool_index.index import with_siblings
from voice_mcp.services.tool_index.ranker import RankingOptions, interleave
from voice_mcp.services.tool_index.tokens import tokenize


def names(index: ToolIndex, ranked: list[int]) -> list[str]:
    return [index.tools[i].qualified_name for i in ranked]


def test_enum_values_and_output_fields_are_indexed() -> None:
    chart = ToolInfo(service="charts", name="render", description="Render data.", input_schema={
        "type": "object",
        "properties": {"kind": {"type": "string", "enum": ["histogram", "wordcloud", 3]},
                       "tags": {"type": "array", "items": {"enum": ["sparkline"]}}}},
        output_schema={"type": "object", "properties": {
            "thumbnail": {"type": "string", "description": "A PNG preview"}}})
    tokens = tool_tokens(chart)
    for word in ("histogram", "wordcloud", "sparkline", "thumbnail", "png", "preview"):
        assert tokenize(word)[0] in tokens


def test_a_changed_output_schema_is_a_new_tool_version() -> None:
    from voice_mcp.services.tool_index.documents import content_hash
    plain = tool("s", "t", "Does things.")
    described = plain.model_copy(update={"output_schema": {"type": "object"}})
    assert content_hash(plain) != content_hash(described)


def test_with_siblings_adds_a_share_of_the_best_score_of_each_service() -> None:
    scores = np.asarray([4.0, 1.0, 0.0, 2.0, 1.0], dtype=np.float32)
    service_of = np.asarray([0, 0, 0, 1, 1])
    # A tool with no word of the request (0.0) stays out whatever its siblings score.
    assert with_siblings(scores, service_of, 2, 0.5).tolist() == [6.0, 3.0, 0.0, 3.0, 2.0]


def test_a_sibling_of_a_matching_service_ranks_above_a_stranger() -> None:
    index = ToolIndex([
        tool("tracker", "open_ticket", "Open a ticket in the bug tracker."),
        tool("notes", "comment", "Add a comment."),
        tool("tracker", "comment", "Add a comment to an item of the list by its number."),
        tool("notes", "archive", "Archive a note."),
    ])
    request = "open a ticket and add a comment"
    alone = names(index, index.rank(request, 4))
    grouped = names(index, index.rank(request, 4, sibling_weight=0.5))
    assert alone.index("notes.comment") < alone.index("tracker.comment")
    assert grouped.index("tracker.comment") < grouped.index("notes.comment")
    assert "notes.archive" not in grouped  # no word of the request: siblings add no stranger


@pytest.mark.parametrize(("request_text", "steps"), [
    ("search the web for trending games, chart them and put it all in a PDF",
     ["search the web for trending games", "chart them", "put it all in a PDF"]),
    ("check the logs then restart the pod", ["check the logs", "restart the pod"]),
    ("busca el vuelo y luego reserva el hotel", ["busca el vuelo", "reserva el hotel"]),
    ("查一下天气，然后发邮件给老板", ["查一下天气", "发邮件给老板"]),
])
def test_a_request_splits_into_its_steps(request_text: str, steps: list[str]) -> None:
    assert split_clauses(request_text) == steps


def test_a_single_step_request_is_not_split() -> None:
    assert split_clauses("what time is it in Tokyo") == []
    assert split_clauses("and, then") == []  # no step has a word that ranks


def test_a_long_request_costs_at_most_a_few_rankings() -> None:
    request = ", ".join(f"step number {i}" for i in range(12))
    assert len(split_clauses(request)) == MAX_CLAUSES


def test_interleave_takes_each_ranking_in_turn_once_per_tool() -> None:
    assert interleave([[1, 2, 3], [2, 4], [5]], 10) == [1, 2, 5, 4, 3]
    assert interleave([[1, 2, 3], [4, 5]], 3) == [1, 4, 2]
    assert interleave([], 3) == []


@pytest.mark.parametrize(("clauses", "offered"), [(False, False), (True, True)])
async def test_ranking_by_steps_gives_every_step_its_tool(clauses: bool, offered: bool) -> None:
    tools = [tool("web", "trending", "Trending topics and trending games."),
             tool("web", "headlines", "News headlines and game news."),
             tool("web", "reviews", "Game reviews and review scores."),
             tool("docs", "pdf", "Export as PDF.")]
    index = ToolIndex(tools)
    request = "find trending games with news headlines with review scores, then export as pdf"
    ranker = ToolRanker(options=RankingOptions(clauses=clauses, sibling_weight=0.0))
    assert ("docs.pdf" in names(index, await ranker.rank(index, request, 2))) is offered
