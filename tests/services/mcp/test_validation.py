"""Argument checks against input schemas, in the schema's own JSON Schema dialect."""

from __future__ import annotations

from typing import Any

import pytest

from voice_mcp.services.mcp.models import ToolInfo
from voice_mcp.services.mcp.validation import ArgumentValidator


def tool(schema: dict[str, Any]) -> ToolInfo:
    return ToolInfo(service="s", name="t", input_schema=schema)


PAIR_2020 = {"type": "object", "properties": {"pair": {
    "type": "array", "prefixItems": [{"type": "string"}, {"type": "integer"}],
    "items": False}}}
PAIR_DRAFT7 = {"$schema": "http://json-schema.org/draft-07/schema#", "type": "object",
               "properties": {"pair": {"type": "array",
                                       "items": [{"type": "string"}, {"type": "integer"}],
                                       "additionalItems": False}}}


@pytest.mark.parametrize("schema", [PAIR_2020, PAIR_DRAFT7], ids=["2020-12", "draft-07"])
def test_each_dialect_is_applied(schema):
    validator = ArgumentValidator()

    assert validator.problem(tool(schema), {"pair": ["a", 1]}) is None
    assert validator.problem(tool(schema), {"pair": ["a", "b"]}) == (
        "invalid arguments: 'b' is not of type 'integer' (at 'pair/1')")
    assert validator.problem(tool(schema), {"pair": ["a", 1, 2]}) is not None


def test_without_schema_keyword_2020_12_is_assumed():
    # Under draft-07 rules "prefixItems" means nothing and ["a", "b"] would pass.
    assert ArgumentValidator().problem(tool(PAIR_2020), {"pair": ["a", "b"]}) is not None


def test_a_broken_schema_leaves_the_check_to_the_server():
    assert ArgumentValidator().problem(tool({"type": "no-such-type"}), {"x": 1}) is None


def test_an_external_reference_is_not_fetched():
    schema = {"type": "object", "properties": {"x": {"$ref": "https://example.com/x.json"}}}

    assert ArgumentValidator().problem(tool(schema), {"x": 1}) is None


def test_validators_are_compiled_once_per_schema():
    validator = ArgumentValidator()
    schema = {"type": "object", "required": ["a"]}

    validator.problem(tool(schema), {"a": 1})
    validator.problem(tool(dict(schema)), {})

    assert len(validator._compiled) == 1


REVIEWED = "^(a+)+$"  # the review's: minutes on 36 characters with the standard `re`
EVIL = "^(a|a)+$"  # one that backtracks in the `regex` engine too
HOSTILE = "a" * 36 + "!"
TIMED_OUT = "invalid arguments: a pattern in the tool's schema took too long to check"


@pytest.mark.parametrize("schema", [
    {"type": "object", "properties": {"x": {"type": "string", "pattern": EVIL}}},
    {"type": "object", "patternProperties": {EVIL: {"type": "string"}}},
    {"type": "object", "properties": {}, "patternProperties": {EVIL: {}},
     "additionalProperties": False},
    {"$schema": "http://json-schema.org/draft-07/schema#", "type": "object",
     "properties": {"x": {"type": "string", "pattern": EVIL}}},
    {"type": "object", "allOf": [{"patternProperties": {EVIL: {}}}],
     "unevaluatedProperties": False},
    {"$schema": "http://json-schema.org/draft-04/schema#", "type": "object",
     "patternProperties": {EVIL: {"type": "string"}}},
], ids=["pattern", "patternProperties", "additionalProperties", "draft-07",
        "unevaluatedProperties", "draft-04"])
def test_a_pattern_that_does_not_finish_fails_the_check(schema):
    where = {"x": HOSTILE} if "properties" in schema and schema["properties"] else {HOSTILE: "v"}
    assert ArgumentValidator().problem(tool(schema), where) == TIMED_OUT


def test_patterns_still_check_what_they_say():
    schema = {"type": "object", "properties": {"x": {"type": "string", "pattern": "^[a-z]+$"}},
              "patternProperties": {"^n_": {"type": "integer"}}, "additionalProperties": False}
    validator = ArgumentValidator()
    assert validator.problem(tool(schema), {"x": "abc", "n_1": 2}) is None
    assert "does not match" in str(validator.problem(tool(schema), {"x": "ABC"}))
    assert "is not of type 'integer'" in str(validator.problem(tool(schema), {"n_1": "2"}))
    assert "'y' does not match any of the regexes" in str(validator.problem(tool(schema), {"y": 1}))


@pytest.mark.parametrize("pattern", [REVIEWED, EVIL])
def test_the_reviewed_pattern_is_a_failure_not_a_freeze(pattern):
    schema = {"type": "object", "properties": {"x": {"type": "string", "pattern": pattern}}}
    assert ArgumentValidator().problem(tool(schema), {"x": HOSTILE}) in (
        TIMED_OUT, f"invalid arguments: '{HOSTILE}' does not match '{pattern}' (at 'x')")


def test_a_result_checked_against_a_hostile_output_schema_fails_too():
    """The mcp SDK checks a result's structured content with jsonschema on the event loop;
    once installed, its pattern searches are bounded as well (here, as the SDK calls it)."""
    from jsonschema.validators import validator_for

    from voice_mcp.services.mcp.patterns import PatternTimeout

    ArgumentValidator()  # installs the bounded search
    schema = {"type": "object", "properties": {"y": {"type": "string", "pattern": EVIL}}}
    checker = validator_for(schema)(schema)
    with pytest.raises(PatternTimeout):
        list(checker.iter_errors({"y": HOSTILE}))


def test_jsonschema_uses_re_only_to_search():
    """`install` replaces `re` in these modules with an object that only has `search`."""
    import importlib
    import inspect
    import re

    from voice_mcp.services.mcp.patterns import SEARCHING_MODULES

    for name in SEARCHING_MODULES:
        source = inspect.getsource(importlib.import_module(name))
        uses = set(re.findall(r"(?<![\w.])re\.(\w+)", source))
        assert uses == {"search"}, (name, uses)


def test_null_for_an_optional_property_means_not_given():
    """An LLM sends null for an optional argument it has no value for: it is left out (and
    so is its Mcp-Param header); a required or nullable one keeps its null."""
    from voice_mcp.services.mcp.validation import without_absent

    schema = {"type": "object", "required": ["region"], "properties": {
        "region": {"type": "string"}, "verbose": {"type": "boolean"},
        "note": {"type": ["string", "null"]}}}
    validator = ArgumentValidator()

    assert validator.problem(tool(schema), {"region": "eu", "verbose": None}) is None
    assert without_absent(schema, {"region": "eu", "verbose": None, "note": None}) == {
        "region": "eu", "note": None}
    assert validator.problem(tool(schema), {"region": None}) is not None
