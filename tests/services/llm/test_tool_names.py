"""Function names and the tools list offered to the LLM.

See docs/api.md, "Tools as the LLM sees them".
"""

from __future__ import annotations

import re

import pytest

from voice_mcp.services.llm.tool_names import (
    MAX_NAME_LENGTH,
    ToolSet,
    ToolSetCache,
    function_name,
    sanitize_schema,
    tool_set_for,
)
from voice_mcp.services.mcp.models import ToolInfo

VALID = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")


def resolve(tools: ToolSet, name: str) -> tuple[str, str] | None:
    """`(service, tool)` behind a function name, or None when it is unknown."""
    found = tools.lookup(name)
    return None if found is None else (found.service, found.name)


def tool(service: str, name: str, **fields) -> ToolInfo:
    return ToolInfo(service=service, name=name, **fields)


def test_plain_names_are_service_double_underscore_tool():
    tools = ToolSet([tool("time", "get_current_time"), tool("git", "git-status")])

    assert [t["function"]["name"] for t in tools.openai_tools] == [
        "time__get_current_time",
        "git__git-status",
    ]
    assert resolve(tools, "time__get_current_time") == ("time", "get_current_time")
    assert tools.name_of("git", "git-status") == "git__git-status"


@pytest.mark.parametrize(
    ("service", "name"),
    [
        ("calendar", "events.list"),
        ("calendar", "créer un évènement"),
        ("files", "read/file:v2"),
        ("a" * 40, "b" * 40),
        ("svc", "x" * 200),
        ("svc", "工具"),
    ],
)
def test_odd_or_long_names_become_valid_and_resolve(service: str, name: str):
    tools = ToolSet([tool(service, name)])

    [offered] = [t["function"]["name"] for t in tools.openai_tools]

    assert VALID.match(offered), offered
    assert len(offered) <= MAX_NAME_LENGTH
    assert resolve(tools, offered) == (service, name)


def test_names_that_clean_to_the_same_text_stay_apart():
    originals = [("cal", "events.list"), ("cal", "events_list"), ("cal", "events list")]
    tools = ToolSet([tool(s, n) for s, n in originals])

    names = [t["function"]["name"] for t in tools.openai_tools]

    assert len(set(names)) == 3
    assert [resolve(tools, n) for n in names] == originals


def test_long_names_sharing_a_prefix_stay_apart():
    prefix = "list_every_event_in_the_shared_team_calendar_between_two_dates_"
    originals = [("calendar", prefix + "by_owner"), ("calendar", prefix + "by_room")]
    tools = ToolSet([tool(s, n) for s, n in originals])

    names = [t["function"]["name"] for t in tools.openai_tools]

    assert all(len(n) <= MAX_NAME_LENGTH for n in names)
    assert names[0] != names[1]
    assert [resolve(tools, n) for n in names] == originals


def test_a_real_name_equal_to_a_cut_one_still_gets_its_own_name():
    cut = function_name("a.b", "x")  # cleaned, so it carries a hash: "a_b__x_<hash>"
    service, _, tool_name = cut.partition("__")
    tools = ToolSet([tool("a.b", "x"), tool(service, tool_name)])

    names = [t["function"]["name"] for t in tools.openai_tools]

    assert names[0] == cut
    assert names[1] != cut and VALID.match(names[1])
    assert resolve(tools, names[0]) == ("a.b", "x")
    assert resolve(tools, names[1]) == (service, tool_name)


def test_names_are_stable_between_builds():
    # Conversation history names tools from earlier turns: rebuilding must give the same names.
    tools = [tool("cal", "events.list"), tool("cal", "x" * 90), tool("time", "now")]

    first = ToolSet(tools).openai_tools
    again = ToolSet(list(reversed(tools))).openai_tools

    assert sorted(t["function"]["name"] for t in first) == sorted(
        t["function"]["name"] for t in again
    )


def test_duplicates_and_unknown_names():
    tools = ToolSet([tool("time", "now"), tool("time", "now", description="again")])

    assert len(tools) == 1
    assert tools.lookup("time__now") is not None
    assert tools.lookup("time__later") is None
    assert resolve(tools, "ask_user") is None
    assert tools.name_of("git", "status") is None


def test_function_entry_shape_and_description_fallbacks():
    tools = ToolSet(
        [
            tool("time", "now", description="  Current time.  ", input_schema={}),
            tool("time", "titled", title="A title"),
            tool("time", "bare"),
            tool("time", "wordy", description="w" * 5000),
        ]
    )

    entries = tools.openai_tools

    assert entries[0] == {
        "type": "function",
        "function": {
            "name": "time__now",
            "description": "Current time.",
            "parameters": {"type": "object", "properties": {}},
        },
    }
    assert entries[1]["function"]["description"] == "A title"
    assert entries[2]["function"]["description"] == "bare"
    assert len(entries[3]["function"]["description"]) == 1024


@pytest.mark.parametrize(
    ("schema", "expected"),
    [
        ({}, {"type": "object", "properties": {}}),
        (None, {"type": "object", "properties": {}}),
        ({"type": "object"}, {"type": "object", "properties": {}}),
        (
            {"properties": {"a": {"type": "string"}}},
            {"type": "object", "properties": {"a": {"type": "string"}}},
        ),
        (
            {
                "$schema": "http://json-schema.org/draft-07/schema#",
                "type": "object",
                "properties": {},
                "required": [],
            },
            {"type": "object", "properties": {}, "required": []},
        ),
    ],
    ids=["empty", "none", "no-properties", "no-type", "draft-marker"],
)
def test_schema_sanitizing(schema, expected):
    before = repr(schema)

    assert sanitize_schema(schema) == expected
    assert repr(schema) == before  # the discovered tool is left untouched


def test_cache_reuses_the_tool_set_of_the_same_tools():
    cache = ToolSetCache(max_entries=2)
    tools = [tool("time", "now"), tool("git", "status")]

    first = cache.get(tools)

    assert cache.get(list(tools)) is first
    assert cache.get([tool("time", "now"), tool("git", "status")]) is not first
    cache.get([tool("a", "b")])
    assert cache.get(tools) is not first  # evicted: least recently used
    assert tool_set_for(tools) is tool_set_for(tools)
