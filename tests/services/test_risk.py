"""Risk levels from catalog overrides, MCP annotations, names and descriptions."""

from __future__ import annotations

import asyncio
import subprocess
import sys

import pytest
from mcp import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client

from tests.services.real_tools import ANNOTATED_VARIANTS, REAL_TOOLS
from voice_mcp.services import risk
from voice_mcp.services.mcp.models import ToolHints, ToolInfo
from voice_mcp.services.risk import RiskAssessment, assess, needs_confirmation, tokens

R, D, OW = "read_only", "destructive", "open_world"


def tool(name: str, description: str = "", **hints: bool | None) -> ToolInfo:
    return ToolInfo(service="svc", name=name, description=description, hints=ToolHints(**hints))


@pytest.mark.parametrize(
    ("hints", "level", "reason"),
    [
        ({R: True}, "low", risk.READS),
        ({R: True, D: False, "idempotent": True, OW: False}, "low", risk.READS),
        ({R: True, OW: True}, "low", risk.READS),  # reading the web is still a read
        ({R: True, D: True}, "high", risk.CONTRADICTS),
        ({R: False, D: True}, "high", risk.OVERWRITES),
        ({R: False, D: True, "idempotent": True}, "high", risk.OVERWRITES),
        ({R: False, D: False, OW: False}, "medium", risk.WRITES),
        ({R: False, D: False, "idempotent": True, OW: False}, "medium", risk.WRITES),
        ({D: False, OW: False}, "medium", risk.WRITES),  # readOnlyHint defaults to false
        # The MCP spec's defaults for absent hints: destructive, open world.
        ({R: False, D: False}, "high", risk.MAY_ACT_OUTSIDE),
        ({R: False, D: False, OW: True}, "high", risk.OUTSIDE),
        ({R: False}, "high", risk.MAY_OVERWRITE),
        ({R: False, "idempotent": True}, "high", risk.MAY_OVERWRITE),
        ({D: True}, "high", risk.OVERWRITES),
        ({D: False}, "high", risk.MAY_ACT_OUTSIDE),
        ({OW: True}, "high", risk.MAY_OVERWRITE),
        ({"idempotent": True}, "high", risk.MAY_OVERWRITE),  # idempotent lowers nothing
        ({}, "high", risk.UNKNOWN),  # nothing shows it harmless: fail closed
    ],
)
def test_annotations_on_a_neutral_name(hints, level, reason):
    assert assess(tool("frobnicate", **hints), {}) == RiskAssessment(level=level, reason=reason)


@pytest.mark.parametrize(
    ("name", "level", "reason"),
    [
        ("delete_event", "high", risk.DELETES),
        ("deleteEvent", "high", risk.DELETES),
        ("DeleteCalendarEvent", "high", risk.DELETES),
        ("calendar-remove-attendee", "high", risk.DELETES),
        ("dropTable", "high", risk.DELETES),
        ("git_reset", "high", risk.OVERWRITES),
        ("revoke_token", "high", risk.CANCELS),
        ("cancelOrder", "high", risk.CANCELS),
        ("send-email", "high", risk.SENDS),
        ("sendEmail", "high", risk.SENDS),
        ("reply_to_thread", "high", risk.SENDS),
        ("email_user", "high", risk.SENDS),
        ("email_get", "high", risk.SENDS),  # for a write, message words count
        ("post_message", "high", risk.SENDS),
        ("publishPost", "high", risk.PUBLISHES),
        ("share_file", "high", risk.PUBLISHES),
        ("tweet", "high", risk.PUBLISHES),
        ("pay_invoice", "high", risk.PAYS),
        ("transferFunds", "high", risk.PAYS),
        ("wire_funds", "high", risk.PAYS),
        ("buy", "high", risk.PAYS),
        ("issue_refund", "high", risk.PAYS),
        ("merge_pull_request", "high", risk.SHIPS),
        ("deploy", "high", risk.SHIPS),
        ("git_push", "high", risk.SHIPS),
        ("execute_sql", "high", risk.RUNS),
        ("run_command", "high", risk.RUNS),
        ("sql_query", "high", risk.RUNS),
        ("eval", "high", risk.RUNS),
        ("spawn_process", "high", risk.RUNS),
        ("create_event", "medium", risk.WRITES),
        ("addAttendee", "medium", risk.WRITES),
        ("update-issue", "medium", risk.WRITES),
        ("git_commit", "medium", risk.WRITES),
        ("rename_file", "medium", risk.WRITES),
        ("set_reminder", "medium", risk.WRITES),
        ("get_or_create_user", "medium", risk.WRITES),
        ("search_replace", "medium", risk.WRITES),
        ("create_merge_request", "medium", risk.WRITES),  # merge is a noun here
        ("get_current_time", "low", risk.READS),
        ("convert_time", "low", risk.READS),
        ("listEvents", "low", risk.READS),
        ("search-messages", "low", risk.READS),
        ("get_post", "low", risk.READS),  # post is a noun here
        ("list_merge_requests", "low", risk.READS),
        ("messages_list", "low", risk.READS),
        ("list_deleted_items", "low", risk.READS),  # whole words only in names
        ("get_and_delete", "high", risk.DELETES),  # each clause counts
        ("list_then_post", "high", risk.PUBLISHES),
        ("frobnicate", None, None),
        ("", None, None),
        ("x9_42", None, None),
    ],
)
def test_what_a_name_says(name, level, reason):
    expected = RiskAssessment(level=level, reason=reason) if level else None
    assert risk.from_words(name, "") == expected


@pytest.mark.parametrize(
    ("name", "level"),
    [("email_get", "low"), ("get_message", "low"), ("open_nodes", "low"), ("get_payment", "low"),
     ("delete_everything", "high"), ("run_command", "high"), ("create_page", "medium")],
)
def test_noun_or_verb_words_cannot_raise_a_read_only_tool(name, level):
    assert assess(tool(name, read_only=True), {}).level == level


@pytest.mark.parametrize(
    ("description", "level", "reason"),
    [
        ("Deletes the given event.", "high", risk.DELETES),
        ("Creates an event and emails the attendees.", "high", risk.SENDS),
        ("Pushes the branch to the remote", "high", risk.SHIPS),
        ("Replies to a thread on your behalf.", "high", risk.SENDS),
        ("Run a shell command", "high", risk.RUNS),
        ("Execute any SQL including DROP", "high", risk.RUNS),
        ("Moves money", "high", risk.PAYS),
        ("Stopped jobs are restarted.", "medium", risk.WRITES),
        ("Shows the commit logs", "low", risk.READS),
        ("Get the weather. Never deletes anything.", "low", risk.READS),  # first sentence only
        ("Does something mysterious", None, None),
    ],
)
def test_what_a_description_says(description, level, reason):
    expected = RiskAssessment(level=level, reason=reason) if level else None
    assert risk.from_words("widget", description) == expected


def test_the_highest_of_name_and_description_counts():
    t = tool("list_files", "Lists files; the delete tool removes them.", read_only=True)
    assert assess(t, {}).level == "high"


@pytest.mark.parametrize(
    ("name", "hints", "level", "reason"),
    [
        ("delete_everything", {R: True}, "high", risk.DELETES),  # words raise a read-only tool
        ("send_report", {R: True, OW: True}, "high", risk.SENDS),
        ("delete_event", {R: False, D: False, OW: False}, "high", risk.DELETES),
        ("send_email", {R: False, D: False, OW: False}, "high", risk.SENDS),
        ("list_events", {R: False, D: False, OW: False}, "medium", risk.WRITES),  # never lower
        ("get_thing", {R: False, D: True}, "high", risk.OVERWRITES),
        ("create_page", {OW: True}, "high", risk.MAY_OVERWRITE),
        ("get_page", {OW: True}, "high", risk.MAY_OVERWRITE),  # not declared read-only
        ("get_page", {R: True, OW: True}, "low", risk.READS),
        ("delete_page", {OW: True}, "high", risk.DELETES),
    ],
)
def test_annotations_and_names_together(name, hints, level, reason):
    assert assess(tool(name, **hints), {}) == RiskAssessment(level=level, reason=reason)


def _hints(annotations: dict[str, bool]) -> ToolHints:
    return ToolHints(read_only=annotations.get("readOnlyHint"),
                     destructive=annotations.get("destructiveHint"),
                     idempotent=annotations.get("idempotentHint"),
                     open_world=annotations.get("openWorldHint"))


def test_the_table_holds_enough_real_tools():
    assert len(REAL_TOOLS) >= 40
    assert len({(origin, name) for origin, name, *_ in REAL_TOOLS}) == len(REAL_TOOLS)


@pytest.mark.parametrize(("origin", "name", "description", "annotations", "level"), REAL_TOOLS,
                         ids=[f"{name}" for _o, name, *_ in REAL_TOOLS])
def test_real_tool_definitions(origin, name, description, annotations, level):
    info = ToolInfo(service="svc", name=name, description=description, hints=_hints(annotations))
    assert assess(info, {}).level == level, origin


@pytest.mark.parametrize(("name", "description", "annotations", "level"), ANNOTATED_VARIANTS,
                         ids=[name for name, *_ in ANNOTATED_VARIANTS])
def test_words_about_commands_sql_money_and_messages(name, description, annotations, level):
    info = ToolInfo(service="svc", name=name, description=description, hints=_hints(annotations))
    assert assess(info, {}).level == level
    assert assess(tool(name, description), {}).level == "high"  # unannotated: always high


@pytest.mark.parametrize(
    ("name", "hints", "overrides", "level"),
    [
        ("delete_event", {R: False, D: True}, {"delete_*": "medium"}, "medium"),
        ("get_time", {R: True}, {"get_*": "high"}, "high"),  # override beats readOnlyHint
        ("frobnicate", {}, {"*": "low"}, "low"),
        ("list_secrets", {R: True}, {"list_*": "low", "list_secrets": "high"}, "high"),
        ("list_secrets", {R: True}, {"list_secrets": "high", "list_*": "low"}, "high"),
        ("list_secret_keys", {}, {"list_*": "low", "list_secret*": "high"}, "high"),
        ("list_secret_keys", {}, {"*": "high", "list_*": "low"}, "low"),
        ("get_x", {}, {"get_?": "high", "get_*": "low"}, "high"),  # tie: first listed wins
        ("get_x", {}, {"get_*": "low", "get_?": "high"}, "low"),
        ("get_x", {}, {"get_[xy]": "high", "get_*": "low"}, "high"),
        ("Delete_event", {}, {"delete_*": "low"}, "high"),  # case-sensitive: no match
        ("delete_event", {}, {"create_*": "low"}, "high"),  # no match: the name decides
    ],
)
def test_catalog_overrides(name, hints, overrides, level):
    result = assess(tool(name, **hints), overrides)
    assert result.level == level
    matched = risk.match_override(name, tuple(overrides.items())) is not None
    assert (result.reason == risk.CATALOG) is matched


def test_overrides_change_the_cached_answer():
    t = tool("delete_event")
    assert assess(t, {}).level == "high"
    assert assess(t, {"delete_event": "low"}).level == "low"
    assert assess(t, {}).level == "high"


def test_assessments_are_cached_and_frozen():
    risk._assess.cache_clear()
    a = assess(tool("delete_event"), {"x": "low"})
    b = assess(tool("delete_event"), {"x": "low"})
    assert a is b
    assert risk._assess.cache_info().hits == 1
    with pytest.raises(Exception):  # noqa: B017 - pydantic's frozen error type is internal
        a.level = "low"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("deleteEvent", ["delete", "event"]),
        ("git_reset", ["git", "reset"]),
        ("send-email", ["send", "email"]),
        ("HTTPRequestSend", ["http", "request", "send"]),
        ("listV2Items", ["list", "v", "2", "items"]),
    ],
)
def test_tokens(text, words):
    assert tokens(text) == words


@pytest.mark.parametrize(
    ("level", "threshold", "held"),
    [
        ("low", "medium", False), ("medium", "medium", True), ("high", "medium", True),
        ("low", "high", False), ("medium", "high", False), ("high", "high", True),
    ],
)
def test_needs_confirmation(level, threshold, held):
    assert needs_confirmation(level, threshold) is held


# The real mcp-server-git: its annotations drive the levels. git_commit is medium: it is
# declared non-destructive, stays local and `git reset` undoes it; git_reset is destructive.
GIT_EXPECTED = {
    "git_status": "low", "git_diff_unstaged": "low", "git_diff_staged": "low", "git_diff": "low",
    "git_log": "low", "git_show": "low", "git_branch": "low",
    "git_commit": "medium", "git_add": "medium", "git_create_branch": "medium",
    "git_checkout": "medium", "git_reset": "high",
}


async def test_tools_of_the_real_git_server(tmp_path):
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    params = StdioServerParameters(command=sys.executable,
                                   args=["-m", "mcp_server_git", "--repository", str(tmp_path)])
    async with asyncio.timeout(30), stdio_client(params) as (read, write), \
            ClientSession(read, write) as session:
        await session.initialize()
        listed = (await session.list_tools()).tools
    levels = {}
    for t in listed:
        a = t.annotations
        assert a is not None, t.name
        hints = ToolHints(read_only=a.read_only_hint, destructive=a.destructive_hint,
                          idempotent=a.idempotent_hint, open_world=a.open_world_hint)
        info = ToolInfo(service="git", name=t.name, description=t.description or "", hints=hints)
        levels[t.name] = assess(info, {}).level
    assert {n: levels[n] for n in GIT_EXPECTED} == GIT_EXPECTED
    commit = ToolInfo(service="git", name="git_commit")
    assert assess(commit, {"git_commit": "high"}).level == "high"
