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
