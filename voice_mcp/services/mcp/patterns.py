"""Schema `pattern`s under a deadline: a tool's schemas are written by its server, and a
pattern such as `^(a+)+$` backtracks for hours on 36 characters, on the event loop.

jsonschema searches patterns (`pattern`, `patternProperties`, and through them
`additionalProperties` and `unevaluatedProperties`) with `re.search` from three of its
modules; `install` points those at `search` below, which uses the `regex` engine with a
timeout. That covers our argument checks and the mcp SDK's check of a result against the
tool's `outputSchema` alike. Inside `budget()` all searches share one deadline; elsewhere
each search has BUDGET_S. A search that runs out raises PatternTimeout: the check fails.
"""

from __future__ import annotations

import importlib
import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from types import SimpleNamespace

import regex

BUDGET_S = 0.1  # for all the searches of one validation
# The jsonschema modules whose only use of `re` is `re.search` (checked by a test).
SEARCHING_MODULES = ("jsonschema._keywords", "jsonschema._utils", "jsonschema._legacy_keywords")
_deadline: ContextVar[float | None] = ContextVar("pattern_deadline", default=None)


class PatternTimeout(Exception):
    """A schema pattern did not finish within the budget: the value is refused."""


@contextmanager
def budget(seconds: float = BUDGET_S) -> Iterator[None]:
    """Bound every pattern search in the block to `seconds` in all."""
    token = _deadline.set(time.monotonic() + seconds)
    try:
        yield
    finally:
        _deadline.reset(token)


def search(pattern: str, text: str) -> regex.Match[str] | None:
    """`re.search`, within what is left of the budget; PatternTimeout past it."""
    deadline = _deadline.get()
    left = BUDGET_S if deadline is None else deadline - time.monotonic()
    if left <= 0:
        raise PatternTimeout(pattern)
    try:
        return regex.search(pattern, text, timeout=left)
    except TimeoutError as err:
        raise PatternTimeout(pattern) from err
    except regex.error:
        return None  # a pattern this engine cannot read matches nothing


BOUNDED_RE = SimpleNamespace(search=search)


def install() -> None:
    """Make jsonschema search patterns with `search` (idempotent)."""
    for name in SEARCHING_MODULES:
        module = importlib.import_module(name)
        module.re = BOUNDED_RE  # type: ignore[attr-defined]
