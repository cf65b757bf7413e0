"""`GET /api/voice/listen`: speech streamed over a WebSocket, recognised while it arrives, then
the command's events as the SSE stream carries them (docs/api.md, "Listen").

The route adapts: it reads the socket, feeds an `Utterance` (services/stt) and starts the
command with what was heard through the same registry and orchestrator as an upload. While
the command runs, a `start` with `answer` answers the command's question by voice, through
the same broker as `POST /api/voice/commands/{id}/input` (services/asking).
"""

from __future__ import annotations

import asyncio
import json
import secrets
from collections.abc import AsyncGenerator
from dataclasses import dataclass

import pydantic
from aiohttp import WSMessage, WSMsgType, web

from voice_mcp.errors import AppError, Conflict
from voice_mcp.services.commands import CommandEvent, CommandInfo
from voice_mcp.services.orchestrator import Command, Heard
from voice_mcp.services.stt.utterance import Utterance
from voice_mcp.web import keys
from voice_mcp.web.listen_limits import SOCKETS_PER_USER, TooManySockets
from voice_mcp.web.routes.voice import require_llm, start_command
from voice_mcp.web.schemas import ListenStart

routes = web.RouteTableDef()
MAX_FRAME_BYTES = 64 * 1024  # 2 s of audio; larger frames close the socket (1009)
IDLE_S = 30.0  # no message for this long closes the socket (4408)
REASON_BYTES = 120  # a close reason must fit in 123 bytes


class Refused(Exception):
    """Close the socket with `code` and a short reason."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason

    @classmethod
    def of(cls, err: AppError) -> Refused:
        """4000 + the HTTP status the same failure has elsewhere (4401, 4429, 4503...)."""
        return cls(4000 + err.status, err.message)


@routes.get("/api/voice/listen")
async def listen(request: web.Request) -> web.WebSocketResponse:
    settings = request.app[keys.SETTINGS]
    ws = web.WebSocketResponse(max_msg_size=MAX_FRAME_BYTES, heartbeat=settings.heartbeat_s)
    await ws.prepare(request)
    try:
        start: ListenStart | None = await _start_message(ws)
        assert start is not None
        user = await _authenticate(request, start.token)
        with request.app[keys.LISTEN_SOCKETS].hold(user, ws):
            while start is not None:
                if start.answer is not None:  # no command of this socket is asking
                    await _answer_by_voice(request, ws, user, "", start)
                    start = await _next_start(ws)
                    continue
                start = await _one_command(request, ws, user, start) or await _next_start(ws)
    except Refused as refused:
        reason = refused.reason.encode()[:REASON_BYTES].decode("utf-8", "ignore")
        await ws.close(code=refused.code, message=reason.encode())
    except TooManySockets:
        await ws.close(code=4429, message=f"At most {SOCKETS_PER_USER} listen sockets per "
                                          "user.".encode())
    except ConnectionError:
        pass  # the client left; its command, if any, runs on (docs/resume.md)
    return ws


async def _receive(ws: web.WebSocketResponse, idle: bool = True) -> WSMessage | None:
    """The next message; None once the client closed; 4408 after IDLE_S of nothing (unless
    not `idle`: while a command runs, its events keep the socket alive)."""
    try:
        message = await ws.receive(timeout=IDLE_S if idle else None)
    except TimeoutError as err:
        raise Refused(4408, f"Nothing received for {IDLE_S:g} s.") from err
    if message.type in (WSMsgType.CLOSE, WSMsgType.CLOSING, WSMsgType.CLOSED,
                        WSMsgType.ERROR):
        return None
    return message


def _parse(message: WSMessage) -> dict[str, object]:
    if message.type != WSMsgType.TEXT:
        raise Refused(4400, "Expected a JSON text message.")
    try:
        data = json.loads(message.data)
    except ValueError as err:
        raise Refused(4400, "The message is not JSON.") from err
    if not isinstance(data, dict):
        raise Refused(4400, "The message is not a JSON object.")
    return data


def _as_start(data: dict[str, object]) -> ListenStart:
    try:
        return ListenStart.model_validate(data)
    except pydantic.ValidationError as err:
        first = err.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "start"
        raise Refused(4400, f"{where}: {first['msg']}") from None


async def _start_message(ws: web.WebSocketResponse) -> ListenStart:
    message = await _receive(ws)
    if message is None:
        raise ConnectionResetError
    return _as_start(_parse(message))


async def _next_start(ws: web.WebSocketResponse) -> ListenStart | None:
    """The next `start`; what is left of the last utterance (frames, `stop`) is dropped."""
    while (message := await _receive(ws)) is not None:
        if message.type == WSMsgType.BINARY:
            continue
        data = _parse(message)
        if data.get("type") != "stop":
            return _as_start(data)
    return None


async def _authenticate(request: web.Request, token: str | None) -> str:
    """The user of the first message's token, else of the Authorization header (4401)."""
    if token is None:
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer":
            token = ""
    if not token.strip():
        raise Refused(4401, "A bearer token is required.")
    try:
        return await request.app[keys.TOKEN_VERIFIER].verify(token.strip())
    except AppError as err:  # 401, or 503 when the identity provider's keys are unreachable
        raise Refused.of(err) from None


async def _one_command(request: web.Request, ws: web.WebSocketResponse, user: str,
                       start: ListenStart) -> ListenStart | None:
    """Hear one utterance, then run it as a command and send its events; the next command's
    `start` when it came while this one ran."""
    app = request.app
    try:
        with app[keys.LIFECYCLE].command():  # refused (503) once a drain began
            require_llm(app)
            await app[keys.RATE_LIMITER].check(user)
            heard = await _hear(ws, _utterance(request, user), start.mode)
            if heard is None:
                return None
            if heard.error is None:
                await ws.send_json({"type": "transcript", "text": heard.transcript})
            command = Command(user_id=user, query="", audio=heard,
                              conversation_id=start.conversation_id or secrets.token_hex(8))
            info = CommandInfo(user, command.query, command.conversation_id)
            events = await start_command(app, info, app[keys.ORCHESTRATOR].run(command))
            try:
                return await _relay(request, ws, user, events)
            finally:
                await events.aclose()
    except AppError as err:
        raise Refused.of(err) from None


@dataclass
class _Running:
    """The command running on the socket, known from its first event."""

    command_id: str = ""


async def _relay(request: web.Request, ws: web.WebSocketResponse, user: str,
                 events: AsyncGenerator[CommandEvent, None]) -> ListenStart | None:
    """Send the command's events while reading the client: its spoken answers to the
    command's questions are taken meanwhile; a plain `start` is returned for afterwards."""
    running = _Running()
    sender = asyncio.create_task(_send_events(ws, events, running))
    reader = asyncio.create_task(_read_answers(request, ws, user, running))
    try:
        done, _ = await asyncio.wait({sender, reader}, return_when=asyncio.FIRST_COMPLETED)
        if reader in done:
            reader.result()  # a bad message (4400) closes the socket now
        await sender
    finally:
        for task in (sender, reader):
            task.cancel()
        await asyncio.gather(sender, reader, return_exceptions=True)
    return None if reader.cancelled() else reader.result()


async def _send_events(ws: web.WebSocketResponse, events: AsyncGenerator[CommandEvent, None],
                       running: _Running) -> None:
    async for event in events:
        running.command_id = running.command_id or str(event.data.get("commandId", ""))
        await ws.send_json({"type": "event", "event": event.kind, "id": event.seq,
                            "data": event.data})


async def _read_answers(request: web.Request, ws: web.WebSocketResponse, user: str,
                        running: _Running) -> ListenStart | None:
    """Until the command ends (then cancelled): answers by voice; frames and `stop` left over
    from the utterance are dropped; a plain `start` ends the reading (the next command)."""
    while (message := await _receive(ws, idle=False)) is not None:
        if message.type == WSMsgType.BINARY:
            continue
        data = _parse(message)
        if data.get("type") == "stop":
            continue
        start = _as_start(data)
        if start.answer is None:
            return start
        await _answer_by_voice(request, ws, user, running.command_id, start)
    return None


async def _answer_by_voice(request: web.Request, ws: web.WebSocketResponse, user: str,
                           command_id: str, start: ListenStart) -> None:
    """Hear one utterance and give its words to the question `start.answer` of the command
    (docs/api.md, "Listen"): `answered`, or `answer_error` with the input route's status."""
    assert start.answer is not None
    app, input_id = request.app, start.answer
    try:
        if not command_id:  # not heard at all: its frames and `stop` are dropped
            raise Conflict("No command on this socket is waiting for an answer.",
                           code="input_closed")
        phrases = app[keys.ASKING].vocabulary(command_id, input_id)
        heard = await _hear(ws, _utterance(request, user, phrases), start.mode)
        if heard is None:
            return
        if heard.error is not None:
            raise heard.error
        await ws.send_json({"type": "transcript", "text": heard.transcript, "inputId": input_id})
        await app[keys.ASKING].answer_heard(app[keys.COMMANDS], user, command_id, input_id,
                                            heard.transcript)
    except AppError as err:
        await ws.send_json({"type": "answer_error", "inputId": input_id, "status": err.status,
                            "code": err.code, "message": err.message,
                            "retryable": err.retryable})
        return
    await ws.send_json({"type": "answered", "inputId": input_id})


def _utterance(request: web.Request, user: str, phrases: list[str] | None = None
               ) -> Utterance:
    """`phrases`: an answer's words, which an offline recogniser listens for alone."""
    recognizer = request.app[keys.LISTENING].open(user, phrases)
    return Utterance(recognizer, request.app[keys.SETTINGS].vad_silence_ms)


async def _hear(ws: web.WebSocketResponse, utterance: Utterance, mode: str) -> Heard | None:
    """Feed frames until `stop` (or, in `vad` mode, the end of speech); None if the client
    left. A recogniser failure (too long, a server error) is what was heard: the command
    reports it as an upload's."""
    try:
        while (message := await _receive(ws)) is not None:
            if message.type == WSMsgType.BINARY:
                partial = await utterance.feed(message.data)
                if partial is not None:
                    await ws.send_json({"type": "partial", "text": partial})
                if mode == "vad" and utterance.ended:
                    break
            elif _parse(message).get("type") == "stop":
                break
            else:
                raise Refused(4400, "Expected binary audio or a stop message.")
        else:
            return None
        return Heard(await utterance.finish())
    except AppError as err:
        return Heard("", err)
    finally:
        await utterance.close()
