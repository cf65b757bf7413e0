"""The system prompt and the ask_user tool."""

from __future__ import annotations

import re

from jsonschema import Draft202012Validator

from voice_mcp.services.llm.prompts import ASK_USER, ASK_USER_TOOL, SYSTEM_PROMPT, system_message


def test_ask_user_is_a_valid_function_that_requires_a_question():
    function = ASK_USER_TOOL["function"]
    schema = function["parameters"]

    Draft202012Validator.check_schema(schema)
    assert function["name"] == ASK_USER
    assert re.fullmatch(r"[a-zA-Z0-9_-]{1,64}", ASK_USER)
    assert "__" not in ASK_USER  # never mistaken for a `<service>__<tool>` name
    assert list(Draft202012Validator(schema).iter_errors({"question": "Which one?"})) == []
    assert list(Draft202012Validator(schema).iter_errors({})) != []


def test_prompt_names_the_rules_the_orchestrator_relies_on():
    assert ASK_USER in SYSTEM_PROMPT
    for rule in ("brief", "never invent", "not instructions"):
        assert rule in SYSTEM_PROMPT.lower()


def test_system_message_appends_context():
    assert system_message() == {"role": "system", "content": SYSTEM_PROMPT}
    assert system_message("  Connected services: time.  ")["content"].endswith(
        "Connected services: time.\n"
    )
