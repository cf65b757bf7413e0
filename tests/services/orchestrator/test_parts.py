"""The run's parts on their own: the tool view, the outcome, the template mode."""

from __future__ import annotations

from typing import Any, cast

from tests.services.orchestrator.conftest import DELETE, READ
from voice_mcp.services.orchestrator.deps import Deps
from voice_mcp.services.orchestrator.local_mode import (
    FallbackToTemplates,
    LocalMode,
    PreferTemplates,
    choose_local_mode,
)
from voice_mcp.services.orchestrator.outcome import Outcome
from voice_mcp.services.orchestrator.payload import Status
from voice_mcp.services.orchestrator.tool_view import ToolView
from voice_mcp.services.tool_index import SEARCH_TOOLS, Offer


def names(functions: list[dict[str, Any]]) -> list[str]:
    return [f["function"]["name"] for f in functions]


def test_a_limited_offer_adds_search_tools_and_a_search_offers_what_it_found() -> None:
    view = ToolView([READ, DELETE], Offer((READ,), limited=True))
    assert names(view.functions) == ["notes__list_notes", SEARCH_TOOLS, "ask_user"]
    assert view.add([DELETE]) == [("notes__delete_note", DELETE)]
    assert names(view.functions) == ["notes__list_notes", "notes__delete_note", SEARCH_TOOLS,
                                     "ask_user"]
    assert view.lookup("notes__delete_note") is DELETE
    assert view.find("notes", "list_notes") is READ
    assert view.lookup("notes__nothing") is None


def test_a_whole_offer_has_no_search_tools_and_an_empty_view_offers_only_ask_user() -> None:
    assert names(ToolView([READ], Offer((READ,), limited=False)).functions) == [
        "notes__list_notes", "ask_user"]
    assert names(ToolView().functions) == ["ask_user"]


def test_each_ending_sets_its_status_with_its_fields() -> None:
    outcome = Outcome()
    outcome.ask("Which note?")
    assert (outcome.status, outcome.question, outcome.response) == (
        Status.CLARIFICATION_NEEDED, "Which note?", "Which note?")
    assert outcome.continue_conversation()
    outcome.complete("Done.")
    assert (outcome.status, outcome.response) == (Status.COMPLETED, "Done.")
    assert not outcome.continue_conversation()


def test_the_template_mode_is_chosen_once_from_the_settings(make_settings) -> None:  # type: ignore[no-untyped-def]
    chosen = {mode: type(choose_local_mode(cast(Deps, _Deps(make_settings(local_intents=mode)))))
              for mode in ("off", "prefer", "fallback")}
    assert chosen == {"off": LocalMode, "prefer": PreferTemplates,
                      "fallback": FallbackToTemplates}
    assert not PreferTemplates.reads_history_first and LocalMode.reads_history_first


class _Deps:
    def __init__(self, settings: Any) -> None:
        self.settings = settings
