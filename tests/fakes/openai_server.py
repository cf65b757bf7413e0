"""An OpenAI-compatible HTTP server that the real `openai` SDK talks to, answering from a script.

    async with OpenAIServer() as server:
        server.script(tool_turn(call("time__get_current_time", {"timezone": "Asia/Tokyo"})),
                      "It is 9 pm in Tokyo.")
        client = openai.AsyncOpenAI(base_url=server.base_url, api_key="sk-test")
        ...
        assert server.requests[1].tool_results[0]["content"] == ...

Chat turns come from a queue (`script`) and, once it is empty, from `responder` (a turn or a
callable `(request_json) -> turn`, sync or async). Faults (`fail`, `hang`, `drop`) are consumed
before turns and do not use one up. Every request is recorded, and so is every client that left
before its answer (`disconnects`, `disconnected`).
"""

from __future__ import annotations

import asyncio
import inspect
import io
import itertools
import json
import math
import shutil
import time
import uuid
import wave
from collections import deque
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

from aiohttp import BodyPartReader, web

from tests.fakes.embeddings import embed, encode
from tests.fakes.realtime_server import RealtimeTranscription

Endpoint = Literal["chat", "transcriptions", "speech"]


# ---------------------------------------------------------------------------------------------
# What the script is made of


@dataclass(frozen=True)
class ToolCall:
    """One scripted function call; a `str` for `arguments` is sent verbatim (for malformed JSON)."""

    name: str
    arguments: dict[str, Any] | str = field(default_factory=dict)
    id: str | None = None

    @property
    def raw_arguments(self) -> str:
        if isinstance(self.arguments, str):
            return self.arguments
        return json.dumps(self.arguments)


@dataclass(frozen=True)
class Turn:
    """One scripted assistant answer: text, tool calls, or both."""

    content: str | None = None
    tool_calls: tuple[ToolCall, ...] = ()
    finish_reason: str | None = None  # default: "tool_calls" when there are calls, else "stop"
    pieces: tuple[str, ...] = ()  # how streamed content is cut (default: `chunk_chars` each)

    @property
    def reason(self) -> str:
        return self.finish_reason or ("tool_calls" if self.tool_calls else "stop")


def call(
    name: str, arguments: dict[str, Any] | str | None = None, *, id: str | None = None
) -> ToolCall:
    """A scripted tool call."""
    return ToolCall(name, {} if arguments is None else arguments, id)


def text(content: str) -> Turn:
    """A scripted text answer."""
    return Turn(content=content)


def pieces(*parts: str) -> Turn:
    """A text answer streamed exactly in these pieces (e.g. cut inside an emoji sequence)."""
    return Turn(content="".join(parts), pieces=parts)


def tool_turn(*calls: ToolCall | tuple[str, dict[str, Any]], content: str | None = None) -> Turn:
    """A scripted turn of one or more tool calls (given as ToolCall or `(name, arguments)`)."""
    made = tuple(c if isinstance(c, ToolCall) else ToolCall(c[0], c[1]) for c in calls)
    return Turn(content=content, tool_calls=made)


TurnLike = Turn | str | ToolCall | list[ToolCall]
Responder = Callable[[dict[str, Any]], "TurnLike | Awaitable[TurnLike]"]
TranscriptLike = str | Callable[["TranscriptionRequest"], "str | Awaitable[str]"]


def as_turn(value: TurnLike) -> Turn:
    """Accept the short forms: a string is text, a ToolCall or a list of them a tool turn."""
    if isinstance(value, Turn):
        return value
    if isinstance(value, str):
        return Turn(content=value)
    if isinstance(value, ToolCall):
        return Turn(tool_calls=(value,))
    return Turn(tool_calls=tuple(value))


# ---------------------------------------------------------------------------------------------
# What was received


@dataclass
class ChatRequest:
    """One `POST /v1/chat/completions` as received."""

    body: dict[str, Any]
    headers: dict[str, str]

    @property
    def messages(self) -> list[dict[str, Any]]:
        return list(self.body.get("messages", []))

    @property
    def tools(self) -> list[dict[str, Any]]:
        return list(self.body.get("tools") or [])

    @property
    def tool_names(self) -> list[str]:
        return tool_names(self.body)

    @property
    def stream(self) -> bool:
        return bool(self.body.get("stream"))

    @property
    def model(self) -> str:
        return str(self.body.get("model", ""))

    @property
    def last_user_text(self) -> str | None:
        return last_user_text(self.body)

    @property
    def response_format(self) -> dict[str, Any] | None:
        """The structured output asked for (`{"type": "json_schema", ...}`), if any."""
        return self.body.get("response_format")

    @property
    def tool_results(self) -> list[dict[str, Any]]:
        return tool_results(self.body)

    @property
    def api_key(self) -> str | None:
        return _bearer(self.headers)


@dataclass
class TranscriptionRequest:
    """One `POST /v1/audio/transcriptions` as received: the file and every other form field."""

    file: bytes
    filename: str | None
    content_type: str | None
    fields: dict[str, str]
    headers: dict[str, str]

    @property
    def model(self) -> str | None:
        return self.fields.get("model")

    @property
    def api_key(self) -> str | None:
        return _bearer(self.headers)


@dataclass
class SpeechRequest:
    """One `POST /v1/audio/speech` as received."""

    body: dict[str, Any]
    headers: dict[str, str]

    @property
    def input(self) -> str:
        return str(self.body.get("input", ""))

    @property
    def response_format(self) -> str:
        return str(self.body.get("response_format") or "mp3")

    @property
    def api_key(self) -> str | None:
        return _bearer(self.headers)


def _bearer(headers: dict[str, str]) -> str | None:
    value = headers.get("Authorization", "")
    return value[7:] if value.startswith("Bearer ") else None


# Helpers for dynamic responders, which get the raw request JSON.


def tool_names(body: dict[str, Any]) -> list[str]:
    """The function names offered in a chat request."""
    return [t["function"]["name"] for t in body.get("tools") or [] if t.get("type") == "function"]


def last_user_text(body: dict[str, Any]) -> str | None:
    """The text of the last user message."""
    for message in reversed(body.get("messages", [])):
        if message.get("role") == "user":
            content = message.get("content")
            if isinstance(content, list):  # content parts
                return "".join(p.get("text", "") for p in content if isinstance(p, dict))
            return content if isinstance(content, str) else None
    return None


def tool_results(body: dict[str, Any]) -> list[dict[str, Any]]:
    """The `tool` messages after the last assistant message: the results the model now sees."""
    results: list[dict[str, Any]] = []
    for message in reversed(body.get("messages", [])):
        if message.get("role") != "tool":
            break
        results.append(message)
    return results[::-1]


# ---------------------------------------------------------------------------------------------
# Faults


@dataclass
class _Fault:
    kind: Literal["status", "hang", "drop", "raw"]
    remaining: float  # math.inf: for ever
    status: int = 500
    message: str = "scripted failure"
    retry_after_ms: int | None = 1
    mid_stream: bool = False
    body: bytes = b""
    content_type: str = "application/json"

    def take(self) -> _Fault:
        self.remaining -= 1
        return self


# ---------------------------------------------------------------------------------------------
# The server


class OpenAIServer:
    """A scripted OpenAI-compatible server on a free loopback port (start/stop or async with)."""

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        api_key: str | None = None,
        models: tuple[str, ...] = ("gpt-5-mini", "whisper-1"),
        chunk_chars: int = 7,
    ) -> None:
        self.host = host
        self.port = port
        self.api_key = api_key  # when set, other bearer tokens get 401
        self.models = models
        self.chunk_chars = chunk_chars  # size of streamed content / argument pieces
        self.interleave = False  # stream the pieces of parallel tool calls round-robin
        self.delay_s = 0.0  # wait this long before answering any request
        self.responder: Turn | str | Responder | None = None
        self.transcription_responder: TranscriptLike | None = None
        self.record = True  # keep request bodies; a long benchmark may turn it off
        self.requests: list[ChatRequest] = []
        self.transcriptions: list[TranscriptionRequest] = []
        self.speeches: list[SpeechRequest] = []
        # Streamed content: wait `first_token_delay_s` before the first content piece and
        # `token_interval_s` between pieces (a realistic pace for latency measurements).
        self.first_token_delay_s = 0.0
        self.token_interval_s = 0.0
        self.first_token_at: list[float] = []  # epoch seconds each answer's first token left
        # Awaited before each streamed piece of output: a test holds the stream between pieces.
        self.before_piece: Callable[[], Awaitable[None]] | None = None
        self.chat_count = 0  # requests received, recorded or not
        self.transcription_count = 0
        self.embedding_inputs: list[list[str]] = []  # the texts of each /embeddings request
        self.embedding_synonyms: dict[str, str] = {}  # word -> word, applied before hashing
        self.embeddings_status = 200  # set to 500 to make /embeddings fail
        self.disconnects: list[Endpoint] = []  # requests whose client went away before the answer
        self.disconnected = asyncio.Event()
        self._turns: deque[TurnLike | Responder] = deque()
        self._transcripts: deque[TranscriptLike] = deque()
        self._faults: dict[Endpoint, deque[_Fault]] = {
            "chat": deque(), "transcriptions": deque(), "speech": deque()
        }
        self._hanging = 0
        self._arrived = asyncio.Condition()
        self._closing = asyncio.Event()
        self._ids = itertools.count(1)
        self._runner: web.AppRunner | None = None
        # Realtime transcription sessions (off until a test sets `realtime.enabled`).
        self.realtime = RealtimeTranscription(self._next_plain_transcript)

    # -- lifecycle ----------------------------------------------------------------------------

    async def start(self) -> OpenAIServer:
        """Listen on the loopback port (a free one unless `port` was given)."""
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_post("/v1/chat/completions", self._chat)
        app.router.add_post("/v1/audio/transcriptions", self._transcription)
        app.router.add_post("/v1/audio/speech", self._speech)
        app.router.add_get("/v1/models", self._models)
        app.router.add_post("/v1/embeddings", self._embeddings)
        app.router.add_get("/v1/realtime", self.realtime.handle)
        # handler_cancellation: a client that leaves cancels the handler, which records it.
        self._runner = web.AppRunner(
            app, handler_cancellation=True, shutdown_timeout=1.0, access_log=None
        )
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        self.port = self._runner.addresses[0][1]
        self._closing.clear()
        return self

    async def stop(self) -> None:
        """Release hanging requests and stop listening."""
        self._closing.set()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> OpenAIServer:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @property
    def base_url(self) -> str:
        """The URL to give the SDK, ending in /v1."""
        return f"http://{self.host}:{self.port}/v1"

    # -- scripting ----------------------------------------------------------------------------

    def script(self, *turns: TurnLike | Responder) -> OpenAIServer:
        """Queue chat answers, in order: Turn, text, ToolCall, [ToolCall], or a callable."""
        self._turns.extend(turns)
        return self

    def script_transcription(self, *texts: TranscriptLike) -> OpenAIServer:
        """Queue transcription answers: the text, or a callable `(TranscriptionRequest) -> str`."""
        self._transcripts.extend(texts)
        return self

    def fail(
        self,
        status: int = 500,
        *,
        times: int | None = 1,
        endpoint: Endpoint = "chat",
        message: str | None = None,
        retry_after_ms: int | None = 1,
    ) -> OpenAIServer:
        """Answer the next `times` requests (None: all) with an HTTP error and a Retry-After."""
        self._faults[endpoint].append(
            _Fault(
                "status",
                math.inf if times is None else times,
                status=status,
                message=message or f"scripted {status}",
                retry_after_ms=retry_after_ms,
            )
        )
        return self

    def hang(
        self, *, times: int | None = 1, endpoint: Endpoint = "chat", mid_stream: bool = False
    ) -> OpenAIServer:
        """Never answer the next `times` requests (None: all) until the client leaves or `stop`.

        `mid_stream`: a streamed chat request gets its headers and first chunk, then nothing.
        """
        self._faults[endpoint].append(
            _Fault("hang", math.inf if times is None else times, mid_stream=mid_stream)
        )
        return self

    def drop(
        self, *, times: int | None = 1, endpoint: Endpoint = "chat", mid_stream: bool = False
    ) -> OpenAIServer:
        """Close the connection of the next `times` requests (None: all) without an answer.

        `mid_stream`: a streamed chat request gets its headers and first chunk first.
        """
        self._faults[endpoint].append(
            _Fault("drop", math.inf if times is None else times, mid_stream=mid_stream)
        )
        return self

    def garbage(
        self, body: bytes, *, content_type: str = "application/json", times: int | None = 1
    ) -> OpenAIServer:
        """Answer the next `times` chat requests (None: all) with `body` verbatim and a 200."""
        self._faults["chat"].append(
            _Fault("raw", math.inf if times is None else times, body=body,
                   content_type=content_type)
        )
        return self

    def reset(self) -> None:
        """Forget the script, the faults and what was recorded."""
        self._turns.clear()
        self._transcripts.clear()
        for faults in self._faults.values():
            faults.clear()
        self.requests.clear()
        self.transcriptions.clear()
        self.speeches.clear()
        self.first_token_at.clear()
        self.chat_count = self.transcription_count = 0
        self.disconnects.clear()
        self.disconnected.clear()

    @property
    def pending_turns(self) -> int:
        """Scripted chat turns not used yet."""
        return len(self._turns)

    @property
    def hanging(self) -> int:
        """Requests being held right now."""
        return self._hanging

    async def wait_for_requests(self, count: int, *, endpoint: Endpoint = "chat") -> None:
        """Wait until `count` requests reached `endpoint` (put it under asyncio.timeout)."""

        def arrived() -> bool:
            seen = self.chat_count if endpoint == "chat" else self.transcription_count
            return seen >= count

        async with self._arrived:
            await self._arrived.wait_for(arrived)

    async def wait_for_hanging(self, count: int = 1) -> None:
        """Wait until `count` requests are being held (put it under asyncio.timeout)."""
        async with self._arrived:
            await self._arrived.wait_for(lambda: self._hanging >= count)

    # -- handlers -----------------------------------------------------------------------------

    async def _chat(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        self.chat_count += 1
        if self.record:
            self.requests.append(ChatRequest(body=body, headers=dict(request.headers)))
        await self._notify()
        stalls = bool(body.get("stream"))
        return await self._guarded(
            "chat", request, lambda: self._answer_chat(request, body), stalls
        )

    async def _transcription(self, request: web.Request) -> web.StreamResponse:
        record = await _read_transcription(request)
        self.transcription_count += 1
        if self.record:
            self.transcriptions.append(record)
        await self._notify()
        return await self._guarded(
            "transcriptions", request, lambda: self._answer_transcription(record), False
        )

    async def _speech(self, request: web.Request) -> web.StreamResponse:
        record = SpeechRequest(body=await request.json(), headers=dict(request.headers))
        if self.record:
            self.speeches.append(record)
        await self._notify()
        return await self._guarded(
            "speech", request, lambda: self._answer_speech(request, record), False
        )

    async def _answer_speech(
        self, request: web.Request, record: SpeechRequest
    ) -> web.StreamResponse:
        """Real audio: a tone as long as the text, in the asked format, sent in pieces."""
        if not record.input or not record.body.get("model") or not record.body.get("voice"):
            return _error(400, "input, model and voice are required", None, retryable=False)
        audio = _tone_wav(0.02 * len(record.input))
        fmt = record.response_format
        media = {"wav": "audio/wav", "mp3": "audio/mpeg", "opus": "audio/ogg"}.get(fmt)
        if media is None:
            return _error(400, f"unsupported response_format {fmt}", None, retryable=False)
        if fmt != "wav":
            audio = await _encode(audio, fmt)
        response = web.StreamResponse(headers={"Content-Type": media})
        response.enable_chunked_encoding()
        await response.prepare(request)
        for start in range(0, len(audio), 4096):
            await response.write(audio[start : start + 4096])
        await response.write_eof()
        return response

    async def _models(self, request: web.Request) -> web.StreamResponse:
        if (denied := self._check_key(request)) is not None:
            return denied
        created = int(time.time())
        data = [
            {"id": m, "object": "model", "created": created, "owned_by": "fake"}
            for m in self.models
        ]
        return web.json_response({"object": "list", "data": data})

    async def _embeddings(self, request: web.Request) -> web.StreamResponse:
        """OpenAI's embeddings wire format over the hashing embedding of tests/fakes/embeddings."""
        if (denied := self._check_key(request)) is not None:
            return denied
        body = await request.json()
        texts = body.get("input")
        texts = [texts] if isinstance(texts, str) else texts
        if not isinstance(texts, list) or not all(isinstance(t, str) for t in texts):
            return _error(400, "input must be a string or a list of strings", None)
        self.embedding_inputs.append(texts)
        await self._notify()
        if self.embeddings_status != 200:
            return _error(self.embeddings_status, "scripted embeddings failure", None,
                          retryable=False)
        fmt = body.get("encoding_format") or "float"
        data = [{"object": "embedding", "index": i,
                 "embedding": encode(embed(t, self.embedding_synonyms), fmt)}
                for i, t in enumerate(texts)]
        tokens = sum(len(t.split()) for t in texts)
        return web.json_response({"object": "list", "data": data, "model": body.get("model"),
                                  "usage": {"prompt_tokens": tokens, "total_tokens": tokens}})

    async def _guarded(
        self,
        endpoint: Endpoint,
        request: web.Request,
        answer: Callable[[], Awaitable[web.StreamResponse]],
        streamed: bool,
    ) -> web.StreamResponse:
        """Apply auth, delay and faults, and record a client that leaves while it waits."""
        try:
            if (denied := self._check_key(request)) is not None:
                return denied
            if self.delay_s:
                await asyncio.sleep(self.delay_s)
            fault = self._next_fault(endpoint)
            if fault is not None and fault.kind == "status":
                return _error(fault.status, fault.message, fault.retry_after_ms)
            if fault is not None and fault.kind == "raw":
                return web.Response(body=fault.body, content_type=fault.content_type)
            if fault is None:
                return await answer()
            if fault.kind == "drop":
                return await self._drop(request, fault.mid_stream and streamed)
            if fault.mid_stream and streamed:
                return await self._stall(request)
            return await self._hold()
        except asyncio.CancelledError:
            self.disconnects.append(endpoint)
            self.disconnected.set()
            raise

    def _check_key(self, request: web.Request) -> web.Response | None:
        if self.api_key is None or _bearer(dict(request.headers)) == self.api_key:
            return None
        return web.json_response(
            {
                "error": {
                    "message": "Incorrect API key provided.",
                    "type": "invalid_request_error",
                    "code": "invalid_api_key",
                    "param": None,
                }
            },
            status=401,
        )

    def _next_fault(self, endpoint: Endpoint) -> _Fault | None:
        faults = self._faults[endpoint]
        while faults and faults[0].remaining <= 0:
            faults.popleft()
        return faults[0].take() if faults else None

    async def _hold(self) -> web.Response:
        """Answer nothing until the server stops (or the client leaves, which cancels this)."""
        self._hanging += 1
        await self._notify()
        try:
            await self._closing.wait()
        finally:
            self._hanging -= 1
        return _error(503, "fake OpenAI server: shutting down", None, retryable=False)

    async def _notify(self) -> None:
        async with self._arrived:
            self._arrived.notify_all()

    async def _next_turn(self, body: dict[str, Any]) -> Turn | None:
        source: TurnLike | Responder | None
        source = self._turns.popleft() if self._turns else self.responder
        if source is None:
            return None
        if callable(source):
            produced = source(body)
            if inspect.isawaitable(produced):
                produced = await produced
            return as_turn(produced)
        return as_turn(source)

    async def _stall(self, request: web.Request) -> web.StreamResponse:
        """Start a stream with its first chunk, then send nothing more."""
        response = await _first_chunk(request)
        await self._hold()
        return response

    async def _drop(self, request: web.Request, mid_stream: bool) -> web.StreamResponse:
        """Close the connection, after the first chunk of a stream when asked."""
        response = await _first_chunk(request) if mid_stream else web.Response()
        if request.transport is not None:
            request.transport.abort()
        return response

    async def _answer_chat(self, request: web.Request, body: dict[str, Any]) -> web.StreamResponse:
        turn = await self._next_turn(body)
        if turn is None:
            return _error(400, "fake OpenAI server: no scripted turn left", None, retryable=False)
        ident = f"chatcmpl-{next(self._ids)}"
        model = str(body.get("model", "fake"))
        usage = _usage(body, turn)
        pieces = list(turn.pieces) or _pieces(turn.content or "", self.chunk_chars)
        chunks = list(_chunks(ident, model, turn, pieces, self.interleave, self.chunk_chars))
        if not body.get("stream"):
            # Paced, a whole answer leaves when its last token would have been made.
            tokens = sum(1 for chunk in chunks if _carries_output(chunk))
            pause = self.first_token_delay_s + self.token_interval_s * max(tokens - 1, 0)
            if pause:
                await asyncio.sleep(pause)
            self.first_token_at.append(time.time())
            return web.json_response(_completion(ident, model, turn, usage))
        response = _event_stream()
        await response.prepare(request)
        first = True
        for chunk in chunks:
            if _carries_output(chunk):
                pause = self.first_token_delay_s if first else self.token_interval_s
                if pause:
                    await asyncio.sleep(pause)
                if self.before_piece is not None:
                    await self.before_piece()
                if first:
                    self.first_token_at.append(time.time())
                first = False
            await response.write(_sse(chunk))
        if (body.get("stream_options") or {}).get("include_usage"):
            await response.write(_sse(_chunk_base(ident, model) | {"choices": [], "usage": usage}))
        await response.write(b"data: [DONE]\n\n")
        await response.write_eof()
        return response

    def _next_plain_transcript(self) -> str | None:
        """The next scripted transcript for a Realtime session (plain text only)."""
        source = self._transcripts.popleft() if self._transcripts else self.transcription_responder
        return source if isinstance(source, str) else None

    async def _answer_transcription(self, record: TranscriptionRequest) -> web.StreamResponse:
        source = self._transcripts.popleft() if self._transcripts else self.transcription_responder
        if source is None:
            return _error(
                400, "fake OpenAI server: no scripted transcript left", None, retryable=False
            )
        if callable(source):
            produced = source(record)
            result = await produced if inspect.isawaitable(produced) else produced
        else:
            result = source
        return web.json_response({"text": result})


# ---------------------------------------------------------------------------------------------
# Wire formats


async def _first_chunk(request: web.Request) -> web.StreamResponse:
    response = _event_stream()
    await response.prepare(request)
    first = _delta_chunk("chatcmpl-cut", "fake", {"role": "assistant", "content": ""})
    await response.write(_sse(first))
    return response


def _event_stream() -> web.StreamResponse:
    return web.StreamResponse(
        headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}
    )


def _sse(data: dict[str, Any]) -> bytes:
    return b"data: " + json.dumps(data).encode() + b"\n\n"


def _error(
    status: int, message: str, retry_after_ms: int | None, *, retryable: bool | None = None
) -> web.Response:
    headers: dict[str, str] = {}
    if retry_after_ms is not None:
        headers["Retry-After"] = str(math.ceil(retry_after_ms / 1000))
        headers["retry-after-ms"] = str(retry_after_ms)  # the SDK prefers it: keeps tests fast
    if retryable is not None:
        headers["x-should-retry"] = "true" if retryable else "false"
    kind = (
        "rate_limit_exceeded"
        if status == 429
        else "server_error"
        if status >= 500
        else "invalid_request_error"
    )
    body = {"error": {"message": message, "type": kind, "code": kind, "param": None}}
    return web.json_response(body, status=status, headers=headers)


async def _read_transcription(request: web.Request) -> TranscriptionRequest:
    reader = await request.multipart()
    file = b""
    filename: str | None = None
    content_type: str | None = None
    fields: dict[str, str] = {}
    while (part := await reader.next()) is not None:
        assert isinstance(part, BodyPartReader), "nested multipart is not part of the API"
        if part.name == "file":
            file = bytes(await part.read())
            filename = part.filename
            content_type = part.headers.get("Content-Type")
        else:
            fields[str(part.name)] = await part.text()
    return TranscriptionRequest(file, filename, content_type, fields, dict(request.headers))


def _pieces(value: str, size: int) -> list[str]:
    return [value[i : i + size] for i in range(0, len(value), size)] or [""]


def _call_id(tool_call: ToolCall) -> str:
    return tool_call.id or f"call_{uuid.uuid4().hex[:16]}"


def _usage(body: dict[str, Any], turn: Turn) -> dict[str, int]:
    """Rough token counts (4 characters a token), enough to test that usage is carried."""
    prompt = max(1, len(json.dumps(body.get("messages", []))) // 4)
    produced = (turn.content or "") + "".join(c.name + c.raw_arguments for c in turn.tool_calls)
    completion = max(1, len(produced) // 4)
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    }


def _completion(ident: str, model: str, turn: Turn, usage: dict[str, int]) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": turn.content, "refusal": None}
    if turn.tool_calls:
        message["tool_calls"] = [
            {
                "id": _call_id(c),
                "type": "function",
                "function": {"name": c.name, "arguments": c.raw_arguments},
            }
            for c in turn.tool_calls
        ]
    return {
        "id": ident,
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {"index": 0, "message": message, "finish_reason": turn.reason, "logprobs": None}
        ],
        "usage": usage,
    }


def _chunk_base(ident: str, model: str) -> dict[str, Any]:
    return {
        "id": ident,
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": model,
    }


def _delta_chunk(
    ident: str, model: str, delta: dict[str, Any], finish: str | None = None
) -> dict[str, Any]:
    choice = {"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}
    return _chunk_base(ident, model) | {"choices": [choice]}


def _call_deltas(turn: Turn, size: int, interleave: bool) -> Iterator[dict[str, Any]]:
    """Tool-call deltas as OpenAI sends them: id and name first, then argument pieces by index."""
    streams: list[list[dict[str, Any]]] = []
    for index, tool_call in enumerate(turn.tool_calls):
        first = {
            "index": index,
            "id": _call_id(tool_call),
            "type": "function",
            "function": {"name": tool_call.name, "arguments": ""},
        }
        rest = [
            {"index": index, "function": {"arguments": piece}}
            for piece in _pieces(tool_call.raw_arguments, size)
            if piece
        ]
        streams.append([first, *rest])
    if not interleave:
        for stream in streams:
            yield from stream
        return
    for group in itertools.zip_longest(*streams):
        yield from (delta for delta in group if delta is not None)


def _carries_output(chunk: dict[str, Any]) -> bool:
    """True for a chunk with generated content or a tool-call piece (a "token")."""
    delta = chunk["choices"][0]["delta"] if chunk.get("choices") else {}
    return bool(delta.get("content") or delta.get("tool_calls"))


def _tone_wav(seconds: float, rate: int = 16000) -> bytes:
    """A 440 Hz tone as 16-bit mono WAV."""
    frames = max(1, int(seconds * rate))
    samples = bytes(
        b for i in range(frames)
        for b in int(8000 * math.sin(2 * math.pi * 440 * i / rate)).to_bytes(2, "little",
                                                                               signed=True)
    )
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(samples)
    return buffer.getvalue()


async def _encode(audio: bytes, fmt: str) -> bytes:
    """mp3 or opus (in Ogg) through ffmpeg, as OpenAI would send them."""
    program = shutil.which("ffmpeg")
    if program is None:
        raise RuntimeError("the fake's mp3/opus speech needs ffmpeg")
    codec = ["-c:a", "libmp3lame", "-f", "mp3"] if fmt == "mp3" else [
        "-c:a", "libopus", "-f", "ogg"]
    process = await asyncio.create_subprocess_exec(
        program, "-hide_banner", "-loglevel", "error", "-f", "wav", "-i", "pipe:0", *codec,
        "pipe:1", stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE)
    out, _ = await process.communicate(audio)
    return out


def _chunks(
    ident: str, model: str, turn: Turn, pieces: list[str], interleave: bool, size: int
) -> Iterator[dict[str, Any]]:
    yield _delta_chunk(ident, model, {"role": "assistant", "content": ""})
    if turn.content:
        for piece in pieces:
            yield _delta_chunk(ident, model, {"content": piece})
    for delta in _call_deltas(turn, size, interleave):
        yield _delta_chunk(ident, model, {"tool_calls": [delta]})
    yield _delta_chunk(ident, model, {}, turn.reason)
