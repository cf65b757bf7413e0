"""Command runs through the orchestrator alone: the events, in order, and what they record."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import redis.asyncio as aioredis

from tests.services.orchestrator.conftest import (
    DELETE,
    FakeMcp,
    Harness,
    answer,
    call,
)
from voice_mcp.errors import ReauthRequired
from voice_mcp.services.confirmations import PendingAction
from voice_mcp.services.history import HistoryStore, Turn
from voice_mcp.services.intents import LocalIntents
from voice_mcp.services.intents.loader import load_file
from voice_mcp.services.mcp.models import ToolCallResult
from voice_mcp.services.mcp.session import ProgressFn
from voice_mcp.services.orchestrator import Done, Event, Progress
from voice_mcp.services.orchestrator.events import ConfirmationRequired, Executed, ToolProgress
from voice_mcp.services.orchestrator.orchestrator import DECLINED
from voice_mcp.services.orchestrator.resume import ResumeContext

DELETE_FN = "notes__delete_note"


def types(events: list[Event]) -> list[str]:
    return [e.type.value if isinstance(e, Progress) else e.kind for e in events]


def done(events: list[Event]) -> dict[str, Any]:
    last = events[-1]
    assert isinstance(last, Done)
    return last.wire()


async def held(harness: Harness) -> str:
    """Run a command whose one call is held; the confirmation id."""
    events = await harness.run("delete the shopping note")
    assert types(events) == ["analyzing", "discovering", "selecting", "confirmation_required",
                             "delta", "done"]
    assert done(events)["status"] == "confirmation_required"
    held_event = events[3]
    assert isinstance(held_event, ConfirmationRequired)
    assert held_event.actions[0]["tool"] == "delete_note"
    return held_event.confirmation_id


async def test_a_tool_run_goes_through_the_stages_in_order(harness) -> None:  # type: ignore[no-untyped-def]
    h = harness(call("notes__list_notes"), answer("You have two notes."))
    events = await h.run("what notes do I have?")
    assert types(events) == ["analyzing", "discovering", "selecting", "executing", "executed",
                             "summarizing", "delta", "done"]
    payload = done(events)
    assert payload["status"] == "completed"
    assert payload["response"] == "You have two notes."
    assert set(payload["timings"]) >= {"analyze", "discover", "plan", "execute", "summarize"}
    assert h.tool_calls("true") == 1
    assert h.mcp.calls == [("resolved", h.mcp.tools[0])]  # resolved once, no lookup by name


async def test_approved_action_runs_like_any_call(harness) -> None:  # type: ignore[no-untyped-def]
    async def deleting(arguments: dict[str, Any], progress: ProgressFn | None) -> ToolCallResult:
        assert progress is not None
        await progress(1, 2, "deleting")
        await progress(2, None, None)
        return ToolCallResult(service="notes", tool="delete_note", arguments=arguments,
                              success=True, output="deleted", duration_ms=7)

    mcp = FakeMcp(behaviour={"delete_note": deleting})
    h = harness(call(DELETE_FN, text="shopping"), answer("Deleted."), mcp=mcp)
    confirmation_id = await held(h)
    assert mcp.calls == []

    events = await h.confirm(confirmation_id, approved=True)
    assert types(events) == ["executing", "tool_progress", "tool_progress", "executed",
                             "summarizing", "delta", "done"]
    forwarded = [e for e in events if isinstance(e, ToolProgress)]
    assert [(e.progress, e.total, e.message) for e in forwarded] == [
        (1, 2, "deleting"), (2, None, "notes.delete_note working")]
    assert "total" not in forwarded[1].wire()
    payload = done(events)
    assert payload["status"] == "completed"
    assert payload["query"] == "delete the shopping note"
    assert payload["results"][0]["output"] == "deleted"
    assert "execute" in payload["timings"]
    assert mcp.calls == [("resolved", DELETE)]
    assert h.tool_calls("true") == 1
    # The LLM finishes with the frozen call's result under the call id it made.
    assert h.llm.seen[-1][-1] == {"role": "tool", "tool_call_id": "call-1", "content": "deleted"}


async def test_reauth_during_an_approved_action_marks_the_service(harness) -> None:  # type: ignore[no-untyped-def]
    async def expired(arguments: dict[str, Any], progress: ProgressFn | None) -> ToolCallResult:
        raise ReauthRequired("notes")

    h = harness(call(DELETE_FN, text="shopping"), answer("Notes needs reconnecting."),
                mcp=FakeMcp(behaviour={"delete_note": expired}))
    events = await h.confirm(await held(h), approved=True)
    executed = next(e for e in events if isinstance(e, Executed))
    assert executed.success is False
    payload = done(events)
    assert payload["unavailable"] == {"notes": "reauth_required"}
    assert payload["results"][0]["error"].startswith("reauth_required: ")
    assert h.tool_calls("false") == 1


async def test_an_action_gone_from_the_listing_is_resolved_by_name(harness) -> None:  # type: ignore[no-untyped-def]
    mcp = FakeMcp()
    h = harness(call(DELETE_FN, text="shopping"), answer("Done."), mcp=mcp)
    confirmation_id = await held(h)
    mcp.tools = [t for t in mcp.tools if t.name != "delete_note"]  # e.g. the list went stale
    events = await h.confirm(confirmation_id, approved=True)
    assert done(events)["status"] == "completed"
    assert mcp.calls == [("by-name", "notes.delete_note")]


async def test_a_declined_confirmation_runs_nothing(harness) -> None:  # type: ignore[no-untyped-def]
    h = harness(call(DELETE_FN, text="shopping"))
    events = await h.confirm(await held(h), approved=False)
    assert types(events) == ["delta", "done"]  # "Okay, I won't do that." is said
    payload = done(events)
    assert (payload["status"], payload["response"]) == ("cancelled", DECLINED)
    assert h.mcp.calls == [] and h.tool_calls("true") == h.tool_calls("false") == 0


async def test_a_confirmation_stored_in_the_old_dict_shape_still_resumes(harness) -> None:  # type: ignore[no-untyped-def]
    h = harness(answer("Deleted it."))
    legacy = {"messages": [{"role": "user", "content": "delete it"},
                           {"role": "assistant", "content": None, "tool_calls": [
                               {"id": "c9", "type": "function",
                                "function": {"name": DELETE_FN, "arguments": "{}"}}]}],
              "query": "delete it", "transcript": "delete it", "rounds": 1}
    action = PendingAction(service="notes", tool="delete_note", arguments={"text": "x"},
                           risk="high", reason="deletes", call_id="c9")
    pending = await h.confirmations.create("alice", "conv-1", [action], legacy)
    events = await h.confirm(pending.id, approved=True)
    payload = done(events)
    assert (payload["status"], payload["query"], payload["transcript"]) == (
        "completed", "delete it", "delete it")
    assert h.llm.seen[0][-1]["tool_call_id"] == "c9"


def test_the_resume_context_is_versioned_and_strict() -> None:
    legacy = ResumeContext.model_validate({"query": "q", "rounds": 2})
    assert (legacy.version, legacy.query, legacy.rounds) == (1, "q", 2)
    assert ResumeContext.model_validate(legacy.dump()) == legacy
    for bad in ({"version": 2, "query": "q"}, {"query": "q", "misspelt": 1}):
        try:
            ResumeContext.model_validate(bad)
        except ValueError:
            continue
        raise AssertionError(f"accepted {bad}")


NOTES_YAML = """
intents:
  ListNotes:
    tool: list_notes
    data: [{sentences: ["list my notes"]}]
    response: "{text}"
  DeleteNote:
    tool: delete_note
    data: [{sentences: ["delete note {text}"]}]
    arguments: {text: "{text}"}
    response: "{text}"
lists:
  text: {wildcard: true}
"""


class CountingHistory(HistoryStore):
    """The real store, counting the reads of earlier turns."""

    reads = 0

    async def turns(self, user_id: str, conversation_id: str) -> list[Turn]:
        self.reads += 1
        return await super().turns(user_id, conversation_id)


async def _with_templates(harness, redis_client: aioredis.Redis, tmp_path: Path,  # type: ignore[no-untyped-def]
                          *turns: Any) -> tuple[Harness, CountingHistory]:
    (tmp_path / "notes.yaml").write_text(NOTES_YAML)
    history = CountingHistory(redis_client)
    await history.append("alice", "conv-1", Turn(query="what notes do I have?",
                                                 response="Two notes.", status="completed"))
    intents = LocalIntents([load_file(tmp_path / "notes.yaml", "notes")])
    return harness(*turns, intents=intents, history=history), history


async def test_a_template_answer_reads_no_earlier_turns(harness, redis_client,  # type: ignore[no-untyped-def]
                                                        tmp_path) -> None:
    h, history = await _with_templates(harness, redis_client, tmp_path, answer("Hello."))
    events = await h.run("list my notes")
    payload = done(events)
    assert payload["processedLocally"] is True and payload["response"] == "list_notes ok"
    assert list(payload["timings"])[:3] == ["analyze", "plan", "execute"]
    assert history.reads == 0  # a Redis round trip the local path does not need
    await h.run("say hello")  # the LLM reads the conversation, local turn included
    assert history.reads == 1
    assert "list my notes" in [m.get("content") for m in h.llm.seen[0]]


async def test_a_held_template_match_freezes_the_whole_conversation(harness, redis_client,  # type: ignore[no-untyped-def]
                                                                    tmp_path) -> None:
    h, history = await _with_templates(harness, redis_client, tmp_path)
    events = await h.run("delete note shopping")
    assert types(events) == ["analyzing", "selecting", "confirmation_required", "delta", "done"]
    held_event = events[2]
    assert isinstance(held_event, ConfirmationRequired)
    pending = await h.orchestrator.take_confirmation("alice", held_event.confirmation_id)
    messages = ResumeContext.model_validate(pending.context).messages
    assert [m["content"] for m in messages[1:]] == [
        "what notes do I have?", "Two notes.", "delete note shopping"]
    assert history.reads == 1
