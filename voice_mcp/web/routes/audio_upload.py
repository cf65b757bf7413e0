"""Read an uploaded recording in chunks under the size cap, and recognise it from its bytes."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import partial

from aiohttp import BodyPartReader, web
from aiohttp.http_exceptions import HttpProcessingError

from voice_mcp.errors import AppError, BadRequest, PayloadTooLarge, UnsupportedMediaType
from voice_mcp.services.stt.audio_format import AudioFormat, is_accepted_mime, sniff
from voice_mcp.services.stt.pcm import check_header
from voice_mcp.web.schemas import is_conversation_id

CHUNK = 64 * 1024
# Room for the multipart boundaries, part headers and a conversationId around the recording.
FORM_OVERHEAD = 64 * 1024
CONVERSATION_ID_BYTES = 256
ACCEPTED = "wav, mp3, m4a/mp4, ogg/opus, webm or flac"

ReadChunk = Callable[[], Awaitable[bytes]]


@dataclass(frozen=True)
class Upload:
    data: bytes
    format: AudioFormat
    conversation_id: str | None


def _too_large(limit: int) -> PayloadTooLarge:
    return PayloadTooLarge(f"The recording is larger than {limit} bytes.", code="audio_too_large")


def _bad_conversation_id() -> BadRequest:
    return BadRequest("conversationId: not a valid id.", code="invalid_body")


async def _read_capped(read_chunk: ReadChunk, limit: int, too_large: AppError) -> bytes:
    """Read until the end, raising `too_large` as soon as more than `limit` bytes arrived."""
    buffer = bytearray()
    while chunk := await read_chunk():
        buffer += chunk
        if len(buffer) > limit:
            raise too_large
    return bytes(buffer)


def _is_raw_audio(content_type: str) -> bool:
    return content_type.startswith("audio/") or is_accepted_mime(content_type)


async def read_audio(request: web.Request, limit: int, field: str = "conversationId") -> Upload:
    """Accept multipart (field `audio`, optional `conversationId`) or a raw audio body.

    `field` names the one text field beside the audio (`inputId` for an answer); its value
    comes back as `conversation_id`, checked as one only when it is one.
    """
    # A declared length over the cap is refused before a byte of the body is read.
    if request.content_length is not None and request.content_length > limit + FORM_OVERHEAD:
        raise _too_large(limit)
    if request.content_type == "multipart/form-data":
        data, conversation_id = await _read_multipart(request, limit, field)
    elif _is_raw_audio(request.content_type):
        data = await _read_capped(partial(request.content.read, CHUNK), limit, _too_large(limit))
        conversation_id = request.query.get(field)
    else:
        raise UnsupportedMediaType(f"Send a recording ({ACCEPTED}) as multipart/form-data or "
                                   "with an audio/* Content-Type.", code="unsupported_audio")
    if not data:
        raise BadRequest("The recording is empty.", code="empty_audio")
    fmt = sniff(data)
    if fmt is None:
        raise UnsupportedMediaType(f"The recording is not {ACCEPTED}.", code="unsupported_audio")
    check_header(data, fmt)  # a header naming an absurd rate: 400 before the command starts
    if (field == "conversationId" and conversation_id is not None
            and not is_conversation_id(conversation_id)):
        raise _bad_conversation_id()
    return Upload(data=data, format=fmt, conversation_id=conversation_id)


async def _read_multipart(request: web.Request, limit: int,
                          field: str) -> tuple[bytes, str | None]:
    try:
        return await _read_form(request, limit, field)
    except (ValueError, HttpProcessingError) as err:  # aiohttp's word for a malformed form
        raise BadRequest("The multipart form could not be read.",
                         code="invalid_multipart") from err


def _body_capped(request: web.Request, read_chunk: ReadChunk, limit: int) -> ReadChunk:
    """Wrap a part's reader so the WHOLE body (every part, boundaries included) stays under
    the cap, even when it is chunked and declares no length."""
    cap = limit + FORM_OVERHEAD

    async def read() -> bytes:
        chunk = await read_chunk()
        if request.content.total_bytes > cap:
            raise _too_large(limit)
        return chunk

    return read


def _unexpected(name: str | None, field: str) -> BadRequest:
    shown = repr(name[:40]) if name else "a nameless part"
    return BadRequest(f"The form has an unexpected field {shown}: send only `audio` and"
                      f" `{field}`.", code="invalid_multipart")


async def _read_form(request: web.Request, limit: int, field: str) -> tuple[bytes, str | None]:
    reader = await request.multipart()
    data: bytes | None = None
    conversation_id: str | None = None
    while (part := await reader.next()) is not None:
        # Anything else is refused unread: releasing it would read it whole.
        if not isinstance(part, BodyPartReader):
            raise _unexpected(None, field)
        read = _body_capped(request, partial(part.read_chunk, CHUNK), limit)
        if part.name == "audio" and data is None:
            data = await _read_capped(read, limit, _too_large(limit))
        elif part.name == field and conversation_id is None:
            raw = await _read_capped(read, CONVERSATION_ID_BYTES, _bad_conversation_id())
            conversation_id = raw.decode("utf-8", "replace").strip() or None
        else:
            raise _unexpected(part.name, field)
    if data is None:
        raise BadRequest("The form has no `audio` file field.", code="missing_audio")
    return data, conversation_id
