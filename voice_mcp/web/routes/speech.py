"""`POST /api/voice/speech`: text in, audio out, streamed as it is made (docs/streaming.md)."""

from __future__ import annotations

import contextlib

from aiohttp import web

from voice_mcp.errors import BadRequest
from voice_mcp.web import keys
from voice_mcp.web.middleware import user_id
from voice_mcp.web.routes.parsing import read_json
from voice_mcp.web.schemas import SpeechRequest

routes = web.RouteTableDef()


@routes.post("/api/voice/speech")
async def speech(request: web.Request) -> web.StreamResponse:
    """Count it like a command before reading the body, then relay the audio chunk by chunk."""
    await request.app[keys.RATE_LIMITER].check(user_id(request))
    body = await read_json(request, SpeechRequest)
    limit = request.app[keys.SETTINGS].tts_max_chars
    if len(body.text) > limit:  # as sent, like the published maxLength
        raise BadRequest(f"text: longer than {limit} characters.", code="text_too_long")
    stream = await request.app[keys.SPEECH].open(body.text, body.format)
    try:
        response = web.StreamResponse(headers={"Content-Type": stream.media_type,
                                               "Cache-Control": "no-store"})
        await response.prepare(request)
        with contextlib.suppress(ConnectionResetError):  # the client left: stop synthesising
            async for chunk in stream:
                await response.write(chunk)
            await response.write_eof()
    finally:
        await stream.aclose()
    return response
