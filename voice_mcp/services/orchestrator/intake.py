"""The first stages: transcribe a recording, analyze the request, discover the tools."""

from __future__ import annotations

from voice_mcp.errors import AppError
from voice_mcp.services.llm.prompts import ASK_USER_TOOL, system_message
from voice_mcp.services.llm.tool_names import tool_set_for
from voice_mcp.services.orchestrator.deps import Deps
from voice_mcp.services.orchestrator.events import Discovering, Transcribed
from voice_mcp.services.orchestrator.payload import Status
from voice_mcp.services.orchestrator.state import RunState
from voice_mcp.services.tool_index import SEARCH_TOOLS_TOOL

NOT_CAUGHT = "Sorry, I didn't catch that. Could you say it again?"


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


async def transcribe(deps: Deps, state: RunState) -> bool:
    """Turn the recording into the query; False when nothing intelligible was said."""
    audio = state.command.audio
    assert audio is not None
    text = await deps.transcriber.transcribe(audio.data, audio.format, state.command.user_id)
    state.lap("transcribe")
    limit = deps.settings.max_query_chars
    if len(text) > limit:
        # Refused, not cut: the end of a spoken command can reverse its start ("... except
        # the last one"). Only the cut text is shown; nothing reaches the LLM or history.
        state.transcript = text[:limit] + "…"
        state.emit(Transcribed(message="Heard you", transcript=state.transcript))
        raise AppError(f"The recording holds more than {limit} characters of speech;"
                       " say a shorter command.", code="transcript_too_long", status=413)
    state.transcript = text
    state.query = text
    state.emit(Transcribed(message="Heard you", transcript=text))
    if not any(ch.isalnum() for ch in text):
        state.outcome.status = Status.CLARIFICATION_NEEDED
        state.outcome.question = NOT_CAUGHT
        state.outcome.response = NOT_CAUGHT
        return False
    return True


async def analyze(deps: Deps, state: RunState, *, recall: bool = True) -> None:
    """Build the conversation the LLM will read: instructions, recent turns, the request.

    `recall=False` leaves the earlier turns unread (a Redis round trip): a template's answer
    needs none, and `recall` adds them once the LLM or a hold turns out to need them.
    """
    history = await deps.history.turns(state.command.user_id, state.command.conversation_id) \
        if recall else []
    messages = [system_message()]
    for turn in history:
        messages.extend(turn.as_messages())
    messages.append({"role": "user", "content": state.query})
    state.messages = messages
    state.pinned.update(name for turn in history for name in turn.tools)
    state.recalled = recall
    state.lap("analyze")


async def recall(deps: Deps, state: RunState) -> None:
    """Analyze again with the earlier turns, if the first analysis left them unread."""
    if not state.recalled:
        await analyze(deps, state)


async def usable_services(deps: Deps, state: RunState) -> tuple[list[str], dict[str, str]]:
    """The services the user can use now, and why the others cannot: asked once per run."""
    if state.usable is None:
        state.usable = await deps.directory.usable(state.command.user_id)
    return state.usable


async def discover(deps: Deps, state: RunState, *, announce: bool = True) -> None:
    """List the tools of every service the user can use now; a dead service is only noted."""
    service_ids, unusable = await usable_services(deps, state)
    found = await deps.mcp.discover(state.command.user_id, service_ids)
    state.unavailable.update(unusable)
    state.unavailable.update(found.unavailable)
    state.tool_set = tool_set_for(found.tools)
    state.discovered = found.tools
    offer = await deps.offering.offer(found.tools, state.query, state.pinned)
    state.offered = list(offer.tools)
    search = [SEARCH_TOOLS_TOOL] if offer.limited else []
    state.openai_tools = [*state.tool_set.functions(offer.tools), *search, ASK_USER_TOOL]
    state.lap("discover")
    if not announce:
        return
    message = (f"Found {_count(len(found.tools), 'tool')} in "
               f"{_count(found.service_count, 'service')}")
    if offer.limited:
        message += f"; offering the {len(offer.tools)} most relevant"
    if state.unavailable:
        message += f"; unavailable: {', '.join(sorted(state.unavailable))}"
    state.emit(Discovering(message=message, services=found.service_count, tools=len(found.tools),
                           offered=len(offer.tools), unavailable=state.unavailable or None))
