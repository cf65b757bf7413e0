"""`GET /api/voice/listen`: speech streamed over a WebSocket, recognised while it arrives, then
the command's events as the SSE stream carries them (docs/api.md, "Listen").

The route adapts: it reads the socket, feeds an `Utterance` (services/stt) and starts the
command with what was heard through the same registry and orchestrator as an upload.
"""

from __future__ import annotations

import json
import secrets

import pydantic
from aiohttp import WSMessage, WSMsgType, web

from voice_mcp.errors import AppError
from voice_mcp.services.commands import CommandInfo
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
                await _one_command(request, ws, user, start)
                start = await _next_start(ws)
    except Refused as refused:
        reason = refused.reason.encode()[:REASON_BYTES].decode("utf-8", "ignore")
        await ws.close(code=refused.code, message=reason.encode())
    except TooManySockets:
        await ws.close(code=4429, message=f"At most {SOCKETS_PER_USER} listen sockets per "
                                          "user.".encode())
    except ConnectionError:
        pass  # the client left; its command, if any, runs on (docs/resume.md)
    return ws


async def _receive(ws: web.WebSocketResponse) -> WSMessage | None:
    """The next message; None once the client closed; 4408 after IDLE_S of nothing."""
    try:
        message = await ws.receive(timeout=IDLE_S)
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
                       start: ListenStart) -> None:
    """Hear one utterance, then run it as a command and send its events."""
    app = request.app
    try:
        with app[keys.LIFECYCLE].command():  # refused (503) once a drain began
            require_llm(app)
            await app[keys.RATE_LIMITER].check(user)
            heard = await _hear(ws, _utterance(request, user), start.mode)
            if heard is None:
                return
            if heard.error is None:
                await ws.send_json({"type": "transcript", "text": heard.transcript})
            command = Command(user_id=user, query="", audio=heard,
                              conversation_id=start.conversation_id or secrets.token_hex(8))
            info = CommandInfo(user, command.query, command.conversation_id)
            events = await start_command(app, info, app[keys.ORCHESTRATOR].run(command))
            try:
                async for event in events:
                    await ws.send_json({"type": "event", "event": event.kind, "id": event.seq,
                                        "data": event.data})
            finally:
                await events.aclose()
    except AppError as err:
        raise Refused.of(err) from None


def _utterance(request: web.Request, user: str) -> Utterance:
    recognizer = request.app[keys.LISTENING].open(user)
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
