"""Spoken and structured answers mapped onto a service's question, checked before sending."""

from __future__ import annotations

from typing import Any

import mcp.types as types
import pytest

from tests.mcp_servers.question_server import COUNT, MEETING, SECRET, SIZES
from voice_mcp.services.asking.fields import form_fields, secret_fields
from voice_mcp.services.asking.question import AnswerBody, Question, Reply, Unanswered


def _question(schema: dict[str, Any], message: str = "Which?") -> Question:
    params = types.ElicitRequestFormParams(message=message, requested_schema=schema)
    return Question.of(params, service="cal", title="Calendar", tool="plan", timeout_s=60)


def _words(schema: dict[str, Any], words: str) -> Reply:
    return _question(schema).reply(AnswerBody(input_id="x", answer=words))


def test_fields_carry_titled_enums_defaults_and_bounds() -> None:
    assert form_fields(MEETING) == [
        {"name": "calendar", "type": "string", "required": True, "title": "Calendar",
         "enum": ["cal-work", "cal-home"], "enumTitles": ["Work", "Home"]},
        {"name": "people", "type": "integer", "required": False, "title": "People",
         "default": 2, "minimum": 1, "maximum": 20}]


def test_a_multi_select_enum_is_an_array_field_with_its_options() -> None:
    schema = {"type": "object", "properties": {"tags": {
        "type": "array", "items": {"anyOf": [{"const": "a", "title": "Alpha"},
                                             {"const": "b", "title": "Beta"}]}}}}
    [field] = form_fields(schema)
    assert field["type"] == "array" and field["enum"] == ["a", "b"]
    assert field["enumTitles"] == ["Alpha", "Beta"]
    assert _words(schema, "alpha and beta").content == {"tags": ["a", "b"]}


def test_the_message_names_the_service_and_the_event_shape_is_the_contracts() -> None:
    shown = _question(MEETING, "Which calendar?").wire()
    assert shown["message"] == "Calendar asks: Which calendar?"
    assert set(shown) == {"inputId", "service", "tool", "mode", "message", "expiresAt",
                          "fields"}
    assert shown["mode"] == "form" and shown["service"] == "cal"


@pytest.mark.parametrize(("words", "content"), [
    ("the work one", {"calendar": "cal-work", "people": 2}),
    ("Home, for four people", {"calendar": "cal-home", "people": 4}),
    ("work with 3", {"calendar": "cal-work", "people": 3}),
    ("cal-home", {"calendar": "cal-home", "people": 2}),
])
def test_an_enum_by_title_or_value_and_a_number_from_digits_or_words(words, content) -> None:
    assert _words(MEETING, words) == Reply("accept", content)


@pytest.mark.parametrize(("words", "value"), [
    ("yes please", True), ("yeah go ahead", True), ("no", False), ("nope, don't", False)])
def test_a_boolean_from_yes_and_no_words(words, value) -> None:
    schema = {"type": "object", "properties": {"ok": {"type": "boolean"}}}
    assert _words(schema, words) == Reply("accept", {"ok": value})


def test_a_lone_string_field_takes_the_words() -> None:
    schema = {"type": "object", "properties": {"name": {"type": "string"}}}
    assert _words(schema, "Ada Lovelace") == Reply("accept", {"name": "Ada Lovelace"})


@pytest.mark.parametrize(("words", "action"), [
    ("never mind", "cancel"), ("cancel that", "cancel"), ("no", "decline")])
def test_cancel_and_no_words_cancel_or_decline(words, action) -> None:
    assert _words(SIZES, words).action == action


def test_a_number_from_number_words() -> None:
    assert _words(COUNT, "twenty five") == Reply("accept", {"count": 25})


def test_what_is_missing_or_invalid_is_named_and_nothing_is_sent() -> None:
    with pytest.raises(Unanswered) as missing:
        _words(MEETING, "for four")
    assert missing.value.status == 422 and "calendar: missing" in missing.value.message
    with pytest.raises(Unanswered) as invalid:
        _question(MEETING).reply(AnswerBody(input_id="x", action="accept",
                                            content={"calendar": "cal-work", "people": 99}))
    assert "people" in invalid.value.message


def test_structured_content_is_checked_and_defaults_filled() -> None:
    reply = _question(MEETING).reply(AnswerBody(input_id="x", action="accept",
                                                content={"calendar": "cal-home"}))
    assert reply == Reply("accept", {"calendar": "cal-home", "people": 2})


def test_passwords_tokens_and_card_numbers_look_secret() -> None:
    schema = {"type": "object", "properties": {
        "api_token": {"type": "string"}, "card": {"type": "string", "title": "Card number"},
        "pin": {"type": "string"}, "city": {"type": "string"},
        "code": {"type": "string", "format": "password"}}}
    assert secret_fields(form_fields(SECRET)) == ["password"]
    assert secret_fields(form_fields(schema)) == ["api_token", "card", "pin", "code"]


def test_the_vocabulary_of_an_answer_is_the_questions_own_words() -> None:
    from voice_mcp.services.asking.words import vocabulary

    phrases = vocabulary(form_fields(MEETING))
    assert phrases is not None
    assert {"work", "the work one", "home", "cal work", "cal home", "calendar", "people",
            "four", "twenty five"} <= set(phrases)
    assert "the" not in phrases and "please" not in phrases  # never alone
    assert {"cancel", "never mind", "no"} <= set(phrases) and "yes" not in phrases
    boolean = vocabulary([{"name": "ok", "type": "boolean", "required": True}])
    assert boolean is not None and {"yes", "go ahead", "no"} <= set(boolean)
    assert vocabulary(form_fields({"type": "object", "properties": {
        "name": {"type": "string"}}})) is None  # free text: no grammar
