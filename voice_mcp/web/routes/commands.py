"""Commands by id: follow one from any instance, poll it, cancel it (docs/resume.md)."""

from __future__ import annotations

from aiohttp import web

from voice_mcp.errors import BadRequest
from voice_mcp.services.asking.question import AnswerBody
from voice_mcp.web import keys
from voice_mcp.web.middleware import user_id
from voice_mcp.web.routes.audio_upload import read_audio
from voice_mcp.web.routes.parsing import read_json
from voice_mcp.web.routes.sse import stream_events

routes = web.RouteTableDef()
MAX_EVENT_ID = 10**9


def last_event_id(request: web.Request) -> int:
    """The client's last seen event: `Last-Event-ID`, else `?lastEventId=`, else 0 (start)."""
    raw = request.headers.get("Last-Event-ID")
    if raw is None:
        raw = request.query.get("lastEventId")
    if raw is None or raw.strip() == "":
        return 0
    raw = raw.strip()
    if not raw.isascii() or not raw.isdigit() or len(raw) > 10:
        raise BadRequest("Last-Event-ID: must be a non-negative whole number.",
                         code="invalid_last_event_id")
    return min(int(raw), MAX_EVENT_ID)


@routes.get("/api/voice/commands/{command_id}/events")
async def command_events(request: web.Request) -> web.StreamResponse:
    after = last_event_id(request)
    events = await request.app[keys.COMMANDS].open(user_id(request),
                                                   request.match_info["command_id"], after)
    return await stream_events(request, events, request.app[keys.SETTINGS].heartbeat_s)


@routes.get("/api/voice/commands/{command_id}")
async def command_status(request: web.Request) -> web.Response:
    view = await request.app[keys.COMMANDS].view(user_id(request),
                                                 request.match_info["command_id"])
    return web.json_response(view.wire())


@routes.post("/api/voice/commands/{command_id}/cancel")
async def cancel_command(request: web.Request) -> web.Response:
    command_id = request.match_info["command_id"]
    await request.app[keys.COMMANDS].cancel(user_id(request), command_id)
    return web.json_response({"commandId": command_id}, status=202)


async def _answer_body(request: web.Request) -> AnswerBody:
    """JSON, or a recording (multipart `audio` + `inputId`) whose transcript is the answer."""
    if request.content_type == "application/json":
        return await read_json(request, AnswerBody)
    upload = await read_audio(request, request.app[keys.SETTINGS].max_audio_bytes,
                              field="inputId")
    if not upload.conversation_id:
        raise BadRequest("inputId: missing.", code="invalid_body")
    words = await request.app[keys.TRANSCRIBER].transcribe(upload.data, upload.format,
                                                           user_id(request))
    return AnswerBody(input_id=upload.conversation_id, answer=words)


@routes.post("/api/voice/commands/{command_id}/input")
async def answer_input(request: web.Request) -> web.Response:
    """Answer a service's question (docs/api.md, "Services that ask"), from any instance."""
    command_id = request.match_info["command_id"]
    body = await _answer_body(request)
    await request.app[keys.ASKING].answer(request.app[keys.COMMANDS], user_id(request),
                                          command_id, body)
    return web.json_response({"commandId": command_id, "inputId": body.input_id}, status=202)
