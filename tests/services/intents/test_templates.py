"""Sentence templates: loading, matching, slots, converters, responses, start-up faults."""

from __future__ import annotations

from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from voice_mcp.services.intents import LocalIntents
from voice_mcp.services.intents.checks import check_against_tools
from voice_mcp.services.intents.clock import parse_clock
from voice_mcp.services.intents.converters import local_zone
from voice_mcp.services.intents.loader import load_file
from voice_mcp.services.intents.places import place_values
from voice_mcp.services.intents.respond import render
from voice_mcp.services.mcp.models import ToolCallResult, ToolInfo
from voice_mcp.settings import ConfigError

TIME_YAML = Path(__file__).resolve().parents[3] / "config" / "intents" / "time.yaml"


@pytest.fixture(scope="module")
def time_intents() -> LocalIntents:
    return LocalIntents([load_file(TIME_YAML, "time")])


@pytest.mark.parametrize(("text", "intent", "arguments"), [
    ("what time is it in Tokyo", "CurrentTime", {"timezone": "Asia/Tokyo"}),
    ("What's the time in NYC?", "CurrentTime", {"timezone": "America/New_York"}),
    ("what time is it in japan", "CurrentTime", {"timezone": "Asia/Tokyo"}),
    ("tell me the time in buenos aires", "CurrentTime",
     {"timezone": "America/Argentina/Buenos_Aires"}),
    ("what time is it in utc", "CurrentTime", {"timezone": "UTC"}),
    ("what is 3 pm in London in Tokyo", "ConvertTime",
     {"time": "15:00", "source_timezone": "Europe/London", "target_timezone": "Asia/Tokyo"}),
    ("convert 9:30 am New York time to Paris time", "ConvertTime",
     {"time": "09:30", "source_timezone": "America/New_York",
      "target_timezone": "Europe/Paris"}),
    ("what is quarter to ten p.m. in LA in Berlin", "ConvertTime",
     {"time": "21:45", "source_timezone": "America/Los_Angeles",
      "target_timezone": "Europe/Berlin"}),
    ("what time is it in Sydney when it is noon in London", "ConvertTime",
     {"time": "12:00", "source_timezone": "Europe/London",
      "target_timezone": "Australia/Sydney"}),
])
def test_sentences_match_with_their_slots(time_intents, text, intent, arguments) -> None:
    match = time_intents.match(text, ["time"])
    assert match is not None and match.problem is None
    assert (match.intent, match.tool, match.arguments) == (
        intent, "get_current_time" if intent.startswith("Current") else "convert_time",
        arguments)


def test_here_is_the_local_zone(time_intents) -> None:
    match = time_intents.match("what time is it here", ["time"])
    assert match is not None and match.arguments == {"timezone": local_zone()}
    ZoneInfo(local_zone())  # a real zone name


def test_no_match_for_other_commands_or_unusable_services(time_intents) -> None:
    assert time_intents.match("order a pizza", ["time"]) is None
    assert time_intents.match("what time is it in Tokyo", ["notes"]) is None


def test_a_slot_that_does_not_convert_is_a_problem_not_a_call(time_intents) -> None:
    match = time_intents.match("what is banana o'clock in London in Tokyo", ["time"])
    assert match is not None and match.problem is not None
    assert "banana" in match.problem


@pytest.mark.parametrize(("said", "clock"), [
    ("3 pm", "15:00"), ("3 p.m.", "15:00"), ("9:14pm", "21:14"), ("nine thirty a m", "09:30"),
    ("half past nine in the morning", "09:30"), ("quarter to ten", "09:45"), ("15:45", "15:45"),
    ("noon", "12:00"), ("midnight", "00:00"), ("12 am", "00:00"), ("twelve p.m.", "12:00"),
    ("7.30 pm", "19:30"), ("7 30 pm", "19:30"), ("7 3 pm", None),
    ("13 pm", None), ("25:00", None), ("nine sixty", None), ("soon", None),
])
def test_clock_converter(said, clock) -> None:
    assert parse_clock(said) == clock


def test_places_are_generated_from_the_zone_database() -> None:
    values = place_values()
    assert len(values) >= 400
    zones = {v["out"] for v in values} - {"local"}
    for zone in zones:
        ZoneInfo(zone)
    spoken = {v["in"] for v in values}
    assert {"tokyo", "paris", "kolkata", "iceland", "japan"} <= spoken


def _tool(name: str, structured: bool = True, **schema_props: dict) -> ToolInfo:
    schema = {"type": "object", "properties": schema_props, "required": list(schema_props)}
    return ToolInfo(service="time", name=name, input_schema=schema,
                    output_schema={"type": "object"} if structured else None)


def test_response_uses_structured_content_and_the_words_said(time_intents) -> None:
    match = time_intents.match("what time is it in nyc", ["time"])
    assert match is not None
    result = ToolCallResult(service="time", tool="get_current_time", success=True,
                            output="{}", structured={"datetime": "2026-03-01T21:14:00-05:00"},
                            arguments=match.arguments)
    tool = _tool("get_current_time", timezone={"type": "string"})
    assert time_intents.respond(match, result, tool) == "It's 9:14 pm in New York."
    failed = result.model_copy(update={"success": False, "error": "unknown zone"})
    assert time_intents.respond(match, failed, tool) == "Sorry, that did not work: unknown zone"


def test_response_of_a_text_tool_is_its_text() -> None:
    assert render("Said: {result}", {"result": "hello"}) == "Said: hello"


def test_response_templates_cannot_reach_python_internals() -> None:
    context = {"result": {"a": "x"}}
    assert render("{result.__class__}{result.a.__doc__}", context) == ""
    assert render("{result.a:upper}", context) == "X"


def _write(tmp_path: Path, body: str, name: str = "time.yaml") -> Path:
    path = tmp_path / name
    path.write_text(body)
    return path


GOOD = """
intents:
  Now:
    tool: get_current_time
    data: [{sentences: ["what time is it in {place}"]}]
    arguments: {timezone: "{place}"}
    response: "It's {result.datetime:clock}."
lists:
  place: {values: [{in: tokyo, out: Asia/Tokyo}]}
"""


@pytest.mark.parametrize(("edit", "expected"), [
    (("what time is it in {place}", "what time (is it in {place}"), "intent Now: sentence"),
    (("{place}\"]", "{city}\"]"), "intent Now: sentence 'what time is it in {city}' uses "
                                  "unknown list {city}"),
    (("{result.datetime:clock}", "{result.datetime:explode}"), "intent Now: response"),
    (('timezone: "{place}"', "timezone: {slot: place, convert: nope}"),
     "intent Now: argument 'timezone': unknown converter 'nope'"),
    (('timezone: "{place}"', 'timezone: "{where}"'),
     "intent Now: argument 'timezone' needs slot {where}"),
])
def test_bad_templates_fail_in_one_line_naming_file_and_intent(tmp_path, edit, expected) -> None:
    path = _write(tmp_path, GOOD.replace(*edit))
    with pytest.raises(ConfigError) as caught:
        load_file(path, "time")
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(f"{path}: ") and expected in message


def test_templates_are_checked_against_the_listed_tools(tmp_path) -> None:
    entry = load_file(_write(tmp_path, GOOD), "time")
    check_against_tools(entry, [_tool("get_current_time", timezone={"type": "string"})])
    with pytest.raises(ConfigError, match=r"time.yaml: intent Now: tool 'get_current_time' is "
                                          r"not one of time's tools"):
        check_against_tools(entry, [_tool("convert_time", time={"type": "string"})])
    with pytest.raises(ConfigError, match=r"intent Now: argument 'timezone' = 'Asia/Tokyo': "):
        check_against_tools(entry, [_tool("get_current_time",
                                          timezone={"type": "string", "enum": ["UTC"]})])
    with pytest.raises(ConfigError, match=r"intent Now: tool 'get_current_time' requires zone"):
        check_against_tools(entry, [_tool("get_current_time", zone={"type": "string"})])
