"""Ranking quality on real tool definitions, and one index per tool-set version."""

from __future__ import annotations

import pytest

from tests.services.tool_index.conftest import LOCAL_LANGUAGE_TOOLS
from voice_mcp.services.mcp.models import ToolInfo
from voice_mcp.services.tool_index import ToolIndex, ToolIndexCache


def top(index: ToolIndex, query: str, k: int = 5) -> list[str]:
    return [index.tools[i].qualified_name for i in index.rank(query, k)]


@pytest.mark.parametrize(("query", "expected"), [
    ("what time is it in tokyo", "time.get_current_time"),
    ("commit my changes with the message fix typo", "git.git_commit"),
    ("what's the weather in paris", "weather.get_weather_by_city"),
    ("search my inbox for the invoice from Acme", "gmail.search_emails"),
    ("查询明天北京到上海的火车票", "trains.get-tickets"),
    ("微博热搜是什么", "trending.get-weibo-trending"),
])
def test_the_right_tool_ranks_in_the_top_ten(catalog, query: str, expected: str) -> None:
    tools, titles = catalog
    assert expected in top(ToolIndex(tools, titles), query, 10)


@pytest.mark.parametrize(("query", "expected"), [
    ("Lista mis eventos del calendario de mañana", "agenda.listar_eventos"),
    ("Crea un evento: cena con Ana", "agenda.crear_evento"),
    ("Füge Milch zur Einkaufsliste hinzu", "einkauf.artikel_hinzufuegen"),
])
def test_a_query_ranks_tools_described_in_its_own_language(catalog, query, expected) -> None:
    tools, titles = catalog
    assert top(ToolIndex(tools, titles), query, 1) == [expected]


def test_a_query_with_no_known_word_ranks_nothing(catalog) -> None:
    tools, titles = catalog
    assert ToolIndex(tools, titles).rank("zzqx wvvy", 10) == []
    assert ToolIndex([], {}).rank("time", 10) == []


def test_a_service_title_counts(catalog) -> None:
    tools = [ToolInfo(service="s1", name="list", description="List items."),
             ToolInfo(service="s2", name="list", description="List items.")]
    index = ToolIndex(tools, {"s1": "Groceries", "s2": "Spotify"})
    assert top(index, "spotify list", 1) == ["s2.list"]


def test_the_same_tool_objects_reuse_their_index_and_a_changed_list_gets_a_new_one() -> None:
    cache = ToolIndexCache()
    tools = list(LOCAL_LANGUAGE_TOOLS)
    first = cache.get(tools)
    assert cache.get(list(tools)) is first
    assert cache.builds == 1
    changed = [*tools[:-1], tools[-1].model_copy(update={"description": "Zeigt die Liste."})]
    second = cache.get(changed)
    assert cache.builds == 2
    assert second.version != first.version
    # Re-read from Redis: new objects with the same content find the same index.
    assert cache.get([t.model_copy() for t in tools]) is first
    assert cache.builds == 2


def test_a_huge_tool_definition_does_not_drown_the_others() -> None:
    schema = {"type": "object",
              "properties": {f"p{i}": {"type": "string", "description": "word " * 1000}
                             for i in range(10_000)}}
    huge = ToolInfo(service="evil", name="flood", description="spam " * 1_000_000,
                    input_schema=schema)
    index = ToolIndex([huge, ToolInfo(service="ok", name="weather_forecast")])
    assert [index.tools[i].name for i in index.rank("weather", 2)] == ["weather_forecast"]


def test_copies_of_a_tool_follow_the_distinct_tools() -> None:
    # The same server connected for two accounts: its tools twice, under two service ids.
    git = [ToolInfo(service=s, name="git_commit", description="Record changes to the repository")
           for s in ("git_work", "git_home")]
    gh = ToolInfo(service="github", name="create_commit_comment",
                  description="Comment on a commit in a repository")
    index = ToolIndex([*git, gh])
    assert top(index, "commit changes to the repository", 3) == [
        "git_work.git_commit", "github.create_commit_comment", "git_home.git_commit"]
    assert top(index, "commit changes to the repository", 2) == [
        "git_work.git_commit", "github.create_commit_comment"]
