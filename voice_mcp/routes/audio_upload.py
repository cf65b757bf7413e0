"""Read an uploaded recording in chunks under the size cap, and recognise it from its bytes."""

from __future__ import annotations

import re
from dataclasses import dataclass

from aiohttp import BodyPartReader, web

from voice_mcp.errors import BadRequest, PayloadTooLarge, UnsupportedMediaType
from voice_mcp.routes.schemas import CONVERSATION_ID
from voice_mcp.services.audio_format import AudioFormat, sniff

CHUNK = 64 * 1024
ACCEPTED = "wav, mp3, m4a/mp4, ogg/opus, webm or flac"


@dataclass(frozen=True)
class Upload:
    data: bytes
    format: AudioFormat
    conversation_id: str | None


def _too_large(limit: int) -> PayloadTooLarge:
    return PayloadTooLarge(f"The recording is larger than {limit} bytes.", code="audio_too_large")


async def _read_capped(read_chunk: object, limit: int) -> bytes:
    buffer = bytearray()
    while True:
        chunk: bytes = await read_chunk()  # type: ignore[operator]
        if not chunk:
            return bytes(buffer)
        buffer += chunk
        if len(buffer) > limit:
            raise _too_large(limit)


async def read_audio(request: web.Request, limit: int) -> Upload:
    """Accept multipart (field `audio`, optional `conversationId`) or a raw `audio/*` body."""
    if request.content_length is not None and request.content_length > limit + 64 * 1024:
        raise _too_large(limit)
    if request.content_type == "multipart/form-data":
        data, conversation_id = await _read_multipart(request, limit)
    elif request.content_type.startswith("audio/") or request.content_type == "video/webm":
        data = await _read_capped(lambda: request.content.read(CHUNK), limit)
        conversation_id = request.query.get("conversationId")
    else:
        raise UnsupportedMediaType(f"Send a recording ({ACCEPTED}) as multipart/form-data or "
                                   "with an audio/* Content-Type.", code="unsupported_audio")
    if not data:
        raise BadRequest("The recording is empty.", code="empty_audio")
    fmt = sniff(data)
    if fmt is None:
        raise UnsupportedMediaType(f"The recording is not {ACCEPTED}.", code="unsupported_audio")
    if conversation_id is not None and not re.match(CONVERSATION_ID, conversation_id):
        raise BadRequest("conversationId: not a valid id.", code="invalid_body")
    return Upload(data=data, format=fmt, conversation_id=conversation_id)


async def _read_multipart(request: web.Request, limit: int) -> tuple[bytes, str | None]:
    reader = await request.multipart()
    data: bytes | None = None
    conversation_id: str | None = None
    while (part := await reader.next()) is not None:
        if not isinstance(part, BodyPartReader):
            continue
        if part.name == "audio":
            data = await _read_capped(lambda p=part: p.read_chunk(CHUNK), limit)
        elif part.name == "conversationId":
            conversation_id = (await _read_capped(lambda p=part: p.read_chunk(CHUNK), 256)
                               ).decode("utf-8", "replace").strip() or None
        else:
            await part.release()
    if data is None:
        raise BadRequest("The form has no `audio` file field.", code="missing_audio")
    return data, conversation_id
