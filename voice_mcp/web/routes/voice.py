"""The voice API: text and audio commands, confirmations, capabilities, examples, history."""

from __future__ import annotations

import dataclasses
import secrets
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from typing import Any

from aiohttp import web

from voice_mcp.errors import BadRequest, LLMNotConfigured
from voice_mcp.services.commands import CommandEvent, CommandInfo
from voice_mcp.services.orchestrator import AudioInput, Command
from voice_mcp.web import keys
from voice_mcp.web.middleware import user_id
from voice_mcp.web.routes.audio_upload import read_audio
from voice_mcp.web.routes.parsing import read_json
from voice_mcp.web.routes.sse import stream_events, wants_event_stream
from voice_mcp.web.schemas import CommandRequest, ConfirmRequest, is_conversation_id

routes = web.RouteTableDef()
INPUT_REQUIRED = "input_required"


def require_llm(app: web.Application) -> None:
    """503 up front only when nothing could answer: no LLM and no sentence templates."""
    settings = app[keys.SETTINGS]
    if not settings.llm_configured and not app[keys.INTENTS].services:
        raise LLMNotConfigured("No LLM is configured and local sentence templates are off: set "
                               "OPENAI_API_KEY, or VOICE_MCP_LLM_BASE_URL for an "
                               "OpenAI-compatible server, or VOICE_MCP_LOCAL_INTENTS=prefer.")


async def _text_command(request: web.Request) -> Command:
    require_llm(request.app)
    # Counted before the body is read: a client over its limit costs no upload.
    await request.app[keys.RATE_LIMITER].check(user_id(request))
    body = await read_json(request, CommandRequest)
    limit = request.app[keys.SETTINGS].max_query_chars
    if len(body.query) > limit:  # as sent, like the published maxLength
        raise BadRequest(f"query: longer than {limit} characters.", code="query_too_long")
    return Command(user_id=user_id(request), query=body.query.strip(),
                   conversation_id=body.conversation_id or secrets.token_hex(8))


async def _audio_command(request: web.Request) -> Command:
    require_llm(request.app)
    await request.app[keys.RATE_LIMITER].check(user_id(request))  # before reading the upload
    upload = await read_audio(request, request.app[keys.SETTINGS].max_audio_bytes)
    conversation_id = upload.conversation_id or secrets.token_hex(8)
    return Command(user_id=user_id(request), query="", conversation_id=conversation_id,
                   audio=AudioInput(data=upload.data, format=upload.format))


async def _answer(request: web.Request, info: CommandInfo, events: AsyncIterator[Any],
                  stream: bool) -> web.StreamResponse:
    """Start the command in the background, then follow it as SSE or wait for its done payload.

    The command is not this request's: a client that leaves only stops reading (section 11).
    """
    followed = await start_command(request.app, info, events)
    if stream:
        return await stream_events(request, followed, request.app[keys.SETTINGS].heartbeat_s)
    command_id = None
    try:
        async for event in followed:
            command_id = command_id or event.data.get("commandId")  # in the first event
            if event.kind == "done":
                return web.json_response(event.data)
            if event.kind == "progress" and event.data.get("type") == INPUT_REQUIRED:
                # Early: the command goes on; GET /api/voice/commands/{id} gives its end.
                shown = {k: v for k, v in event.data.items() if k not in ("type", "timestamp")}
                return web.json_response({"status": INPUT_REQUIRED, "commandId": command_id,
                                          "input": shown})
    finally:
        await followed.aclose()
    raise RuntimeError("the command ended without a done event")


async def start_command(app: web.Application, info: CommandInfo,
                        events: AsyncIterator[Any]) -> AsyncGenerator[CommandEvent, None]:
    """Start a command in the background; its events, followed as one of its readers."""
    registry = app[keys.COMMANDS]
    running = await registry.start(info, events)
    if running.task is not None:
        app[keys.LIFECYCLE].watch(running.task)  # a drain waits for it to end
    return registry.attach(running)


def _command_route(read: Callable[[web.Request], Awaitable[Command]],
                   stream: bool) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    """A handler that reads a command one way and answers it as SSE or as JSON."""

    async def handler(request: web.Request) -> web.StreamResponse:
        with request.app[keys.LIFECYCLE].command():  # 503 draining once a drain began
            command = dataclasses.replace(await read(request), stream_text=stream)
            info = CommandInfo(command.user_id, command.query, command.conversation_id)
            return await _answer(request, info, request.app[keys.ORCHESTRATOR].run(command),
                                 stream)

    return handler


routes.post("/api/voice/llm")(_command_route(_text_command, stream=False))
routes.post("/api/voice/llm/stream")(_command_route(_text_command, stream=True))
routes.post("/api/voice/audio")(_command_route(_audio_command, stream=False))
routes.post("/api/voice/audio/stream")(_command_route(_audio_command, stream=True))


@routes.post("/api/voice/confirm")
async def confirm(request: web.Request) -> web.StreamResponse:
    with request.app[keys.LIFECYCLE].command():  # refused before the confirmation is claimed
        body = await read_json(request, ConfirmRequest)
        orchestrator = request.app[keys.ORCHESTRATOR]
        pending = await orchestrator.take_confirmation(user_id(request), body.confirmation_id)
        info = CommandInfo(pending.user_id, str(pending.context.get("query", "")),
                           pending.conversation_id, continues=pending.trace)
        stream = wants_event_stream(request)
        events = orchestrator.resume(pending, body.approved, stream_text=stream)
        return await _answer(request, info, events, stream=stream)


@routes.get("/api/voice/capabilities")
async def capabilities(request: web.Request) -> web.Response:
    views = await request.app[keys.CAPABILITIES].services(user_id(request))
    return web.json_response({"services": [v.model_dump() for v in views]})


@routes.get("/api/voice/examples")
async def examples(request: web.Request) -> web.Response:
    found = await request.app[keys.CAPABILITIES].examples(user_id(request))
    return web.json_response({"examples": found})


@routes.get("/api/voice/history")
async def history(request: web.Request) -> web.Response:
    store = request.app[keys.HISTORY]
    conversation_id = request.query.get("conversationId")
    if conversation_id is not None:
        if not is_conversation_id(conversation_id):
            raise BadRequest("conversationId: not a valid id.", code="invalid_query")
        turns = await store.turns(user_id(request), conversation_id)
        return web.json_response({"conversationId": conversation_id,
                                  "turns": [t.model_dump() for t in turns]})
    recent = await store.recent(user_id(request))
    return web.json_response({"conversations": [
        {"conversationId": cid, "turns": [t.model_dump() for t in turns]}
        for cid, turns in recent.items()]})
