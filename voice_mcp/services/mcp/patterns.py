"""Schema `pattern`s under a deadline: a tool's input schema is written by its server, and a
pattern such as `^(a+)+$` backtracks for minutes on 36 characters, on the event loop.

The validators use the `regex` module, whose searches take a timeout, for `pattern`,
`patternProperties` and `additionalProperties` (the keywords that search); every search of
one validation shares one budget, and a validation that runs out fails as a whole.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

import regex
from jsonschema import ValidationError
from jsonschema.protocols import Validator
from jsonschema.validators import extend

BUDGET_S = 0.1  # for all the searches of one validation
_deadline: ContextVar[float | None] = ContextVar("pattern_deadline", default=None)


class PatternTimeout(Exception):
    """A schema pattern did not finish within the budget: the arguments are refused."""


@contextmanager
def budget(seconds: float = BUDGET_S) -> Iterator[None]:
    """Bound every pattern search in the block to `seconds` in all."""
    token = _deadline.set(time.monotonic() + seconds)
    try:
        yield
    finally:
        _deadline.reset(token)


def search(pattern: str, text: str) -> bool:
    """Whether `pattern` matches somewhere in `text`, within what is left of the budget."""
    deadline = _deadline.get()
    left = BUDGET_S if deadline is None else deadline - time.monotonic()
    if left <= 0:
        raise PatternTimeout(pattern)
    try:
        return regex.search(pattern, text, timeout=left) is not None
    except TimeoutError as err:
        raise PatternTimeout(pattern) from err
    except regex.error:
        return False  # a pattern this engine cannot read matches nothing


def _pattern(validator: Any, patrn: str, instance: Any, schema: Any) -> Iterator[ValidationError]:
    if validator.is_type(instance, "string") and not search(patrn, instance):
        yield ValidationError(f"{instance!r} does not match {patrn!r}")


def _pattern_properties(validator: Any, patterns: Mapping[str, Any], instance: Any,
                        schema: Any) -> Iterator[ValidationError]:
    if not validator.is_type(instance, "object"):
        return
    for pattern, subschema in patterns.items():
        for key, value in instance.items():
            if search(pattern, key):
                yield from validator.descend(value, subschema, path=key, schema_path=pattern)


def _additional_properties(validator: Any, allowed: Any, instance: Any,
                           schema: Mapping[str, Any]) -> Iterator[ValidationError]:
    if not validator.is_type(instance, "object"):
        return
    known = schema.get("properties", {})
    patterns = list(schema.get("patternProperties", {}))
    extras = sorted((key for key in instance if key not in known
                     and not any(search(p, key) for p in patterns)), key=str)
    if validator.is_type(allowed, "object"):
        for extra in extras:
            yield from validator.descend(instance[extra], allowed, path=extra)
    elif not allowed and extras:
        listed = ", ".join(repr(each) for each in extras)
        yield ValidationError(f"Additional properties are not allowed ({listed} unexpected)")


@functools.cache
def bounded(cls: type[Validator]) -> type[Validator]:
    """`cls` with its searching keywords under the deadline of `budget`."""
    keywords = {"pattern": _pattern, "patternProperties": _pattern_properties,
                "additionalProperties": _additional_properties}
    extended: type[Validator] = extend(cls, keywords)  # type: ignore[no-untyped-call]
    return extended
