import json

from tests.services.tool_index.conftest import tool
from voice_mcp.services.tool_index.offer import (
    EXTRA_ROOM,
    SEARCH_TOOLS,
    choose_offer,
    search_query,
    search_result,
)

TOOLS = [tool("svc", f"t{i}", f"Tool number {i}") for i in range(40)]


def test_within_the_budget_every_tool_is_offered_in_order() -> None:
    offer = choose_offer(TOOLS[:32], ranked=[5], budget=32)
    assert offer.tools == tuple(TOOLS[:32])
    assert not offer.limited


def test_past_the_budget_pinned_tools_come_first_then_the_ranked_ones() -> None:
    ranked = [3, 7, 3, 9] + list(range(10, 40))
    offer = choose_offer(TOOLS, ranked, budget=10, pinned=[TOOLS[20], TOOLS[7]])
    assert offer.limited
    assert len(offer.tools) == 10 - EXTRA_ROOM
    assert [t.name for t in offer.tools] == ["t20", "t7", "t3", "t9", "t10", "t11", "t12", "t13"]


def test_search_tools_cannot_be_a_service_tool_name() -> None:
    assert "__" not in SEARCH_TOOLS


def test_search_query_accepts_only_a_non_empty_string() -> None:
    assert search_query({"query": "  star a repo "}) == "star a repo"
    assert search_query({"query": ""}) is None
    assert search_query({"query": 3}) is None
    assert search_query("star") is None
    assert len(search_query({"query": "x" * 5000}) or "") == 300


def test_search_result_lists_function_names_and_short_descriptions() -> None:
    long = tool("svc", "long", "y" * 1000)
    data = json.loads(search_result([("svc__long", long)]))
    assert data["tools"] == [{"name": "svc__long", "description": "y" * 200}]
    assert json.loads(search_result([]))["tools"] == []
