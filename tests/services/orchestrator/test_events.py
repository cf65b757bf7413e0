"""Typed progress events: each type has only its own fields, and the wire stays the same."""

from __future__ import annotations

import json
import typing

import pytest
from pydantic import ValidationError

from voice_mcp.services.orchestrator import events as ev


def test_each_stage_has_exactly_one_model() -> None:
    union = typing.get_args(typing.get_args(ev.ProgressEvent)[0])
    assert sorted(m.model_fields["type"].default.value for m in union) == sorted(
        s.value for s in ev.Stage)


def test_a_misspelt_or_foreign_field_is_refused() -> None:
    with pytest.raises(ValidationError):
        ev.Selecting(message="m", tool=["a"])  # type: ignore[call-arg]
    with pytest.raises(ValidationError):
        ev.Executing(message="m", service="s", tool="t", index=1, total=2, success=True)  # type: ignore[call-arg]


def test_wire_shape_is_camel_case_with_integers_kept() -> None:
    event = ev.Executed(message="x done", service="notes", tool="add", success=True,
                        duration_ms=12, timestamp=5)
    assert json.dumps(event.wire()) == (
        '{"type": "executed", "message": "x done", "timestamp": 5, "service": "notes", '
        '"tool": "add", "success": true, "durationMs": 12}')
    executing = ev.Executing(message="m", service="s", tool="t", index=1, total=2).wire()
    assert (executing["index"], executing["total"]) == (1, 2)
    assert isinstance(executing["total"], int)
    held = ev.ConfirmationRequired(message="m", confirmation_id="c", expires_at=9, actions=[])
    assert {"confirmationId", "expiresAt"} <= set(held.wire())


def test_unset_optional_fields_stay_off_the_wire() -> None:
    assert "unavailable" not in ev.Discovering(message="m", services=1, tools=2, offered=2).wire()
    assert "total" not in ev.ToolProgress(message="m", service="s", tool="t", progress=1).wire()


def test_a_progress_event_parses_back_to_its_type() -> None:
    data = ev.Selecting(message="m", tools=["notes.add"]).wire()
    parsed = ev.PROGRESS.validate_python(data)
    assert isinstance(parsed, ev.Selecting) and parsed.tools == ["notes.add"]


def test_kinds_name_the_sse_events() -> None:
    assert (ev.Analyzing.kind, ev.ErrorEvent.kind, ev.Done.kind) == ("progress", "error", "done")
