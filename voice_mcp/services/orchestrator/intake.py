"""The first stages: transcribe a recording, analyze the request, discover the tools."""

from __future__ import annotations

from voice_mcp.errors import AppError
from voice_mcp.services import tracing
from voice_mcp.services.orchestrator.command import Heard, Said
from voice_mcp.services.orchestrator.conversation import Conversation
from voice_mcp.services.orchestrator.deps import Deps
from voice_mcp.services.orchestrator.events import Discovering, Transcribed
from voice_mcp.services.orchestrator.run import Run
from voice_mcp.services.orchestrator.tool_view import ToolView

NOT_CAUGHT = "Sorry, I didn't catch that. Could you say it again?"


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


async def transcribe(deps: Deps, run: Run) -> bool:
    """Turn the recording into the query; False when nothing intelligible was said."""
    audio = run.command.audio
    assert audio is not None
    if isinstance(audio, Heard):  # recognised as it streamed (the listen socket)
        if audio.error is not None:
            raise audio.error
        text = audio.transcript
    else:
        with tracing.speech("speech_to_text", type(deps.transcriber).__name__,
                            bytes=len(audio.data)) as span:
            text = await deps.transcriber.transcribe(audio.data, audio.format,
                                                     run.command.user_id)
            span.content("voice_mcp.transcript", text)
    run.timings.lap("transcribe")
    limit = deps.settings.max_query_chars
    if len(text) > limit:
        # Refused, not cut: the end of a spoken command can reverse its start ("... except
        # the last one"). Only the cut text is shown; nothing reaches the LLM or history.
        run.said = Said(run.said.query, transcript=text[:limit] + "…")
        run.emit(Transcribed(message="Heard you", transcript=run.said.transcript or ""))
        raise AppError(f"The recording holds more than {limit} characters of speech;"
                       " say a shorter command.", code="transcript_too_long", status=413)
    run.said = Said(text, transcript=text)
    run.emit(Transcribed(message="Heard you", transcript=text))
    if not any(ch.isalnum() for ch in text):
        run.outcome.ask(NOT_CAUGHT)
        return False
    return True


async def analyze(deps: Deps, run: Run, *, recall: bool = True) -> None:
    """Open the conversation the LLM will read: instructions, recent turns, the request.

    `recall=False` leaves the earlier turns unread (a Redis round trip): a template's answer
    needs none, and `recall` adds them once the LLM or a hold turns out to need them.
    """
    command = run.command
    history = await deps.history.turns(command.user_id, command.conversation_id) \
        if recall else None
    run.conversation = Conversation.opening(run.said.query, history)
    run.timings.lap("analyze")


async def recall(deps: Deps, run: Run) -> None:
    """Analyze again with the earlier turns, if the first analysis left them unread."""
    if not run.conversation.with_history:
        await analyze(deps, run)


async def discover(deps: Deps, run: Run, *, announce: bool = True) -> None:
    """List the tools of every service the user can use now; a dead service is only noted."""
    service_ids, unusable = await run.services.get()
    found = await deps.mcp.discover(run.command.user_id, service_ids)
    run.outcome.missing(unusable)
    run.outcome.missing(found.unavailable)
    offer = await deps.offering.offer(found.tools, run.said.query, run.conversation.pinned)
    run.tools = ToolView(found.tools, offer)
    run.timings.lap("discover")
    if not announce:
        return
    unavailable = run.outcome.unavailable
    message = (f"Found {_count(len(found.tools), 'tool')} in "
               f"{_count(found.service_count, 'service')}")
    if offer.limited:
        message += f"; offering the {len(offer.tools)} most relevant"
    if unavailable:
        message += f"; unavailable: {', '.join(sorted(unavailable))}"
    run.emit(Discovering(message=message, services=found.service_count, tools=len(found.tools),
                         offered=len(offer.tools), unavailable=unavailable or None))
