"""The Realtime API's transcription sessions, as OpenAI speaks them over a WebSocket at
`/v1/realtime?intent=transcription`: `session.update`, `input_audio_buffer.append` (base64
PCM), `input_audio_buffer.commit`; answered with `session.created`, `session.updated`,
`input_audio_buffer.committed`, `conversation.item.input_audio_transcription.delta` and
`.completed`. Mounted on the fake OpenAI server (tests/fakes/openai_server.py), which also
scripts what is "heard": it recognises nothing, it records the audio it was sent.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from aiohttp import WSMsgType, web

Behaviour = Literal["transcribe", "error", "garbage", "silent"]


@dataclass
class RealtimeSession:
    """One session as the server saw it."""

    api_key: str | None
    query: dict[str, str]
    session: dict[str, Any] | None = None
    audio: bytearray = field(default_factory=bytearray)
    committed: bool = False


class RealtimeTranscription:
    """Sessions of the fake server; `behaviour` says how a commit is answered."""

    def __init__(self, next_transcript: Callable[[], str | None]) -> None:
        self._next_transcript = next_transcript
        self.enabled = False  # off: the handshake gets 404, as from a server with no Realtime
        self.behaviour: Behaviour = "transcribe"
        self.delta_every_bytes = 24_000  # half a second of 24 kHz audio per word sent early
        self.sessions: list[RealtimeSession] = []

    async def handle(self, request: web.Request) -> web.StreamResponse:
        if not self.enabled:
            return web.json_response({"error": {"message": "Not found", "type": "invalid_request"}},
                                     status=404)
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        auth = request.headers.get("Authorization", "")
        session = RealtimeSession(auth.removeprefix("Bearer ") or None, dict(request.query))
        self.sessions.append(session)
        await ws.send_json({"type": "session.created", "session": {"type": "transcription"}})
        words: list[str] = []
        async for message in ws:
            if message.type != WSMsgType.TEXT:
                continue
            event = json.loads(message.data)
            kind = event.get("type")
            if kind == "session.update":
                session.session = event["session"]
                await ws.send_json({"type": "session.updated", "session": event["session"]})
            elif kind == "input_audio_buffer.append":
                words = words or (self._next_transcript() or "").split()
                await self._append(ws, session, base64.b64decode(event["audio"]), words)
            elif kind == "input_audio_buffer.commit":
                session.committed = True
                await ws.send_json({"type": "input_audio_buffer.committed", "item_id": "item_1"})
                words = words or (self._next_transcript() or "").split()
                await self._answer(ws, session, words)
        return ws

    async def _append(self, ws: web.WebSocketResponse, session: RealtimeSession, audio: bytes,
                      words: list[str]) -> None:
        """Record the audio; one word of the transcript per `delta_every_bytes` of it."""
        before = len(session.audio) // self.delta_every_bytes
        session.audio += audio
        for index in range(before, len(session.audio) // self.delta_every_bytes):
            if index < len(words) - 1:  # the last word waits for the commit
                await ws.send_json(_delta(words[index] + " "))

    async def _answer(self, ws: web.WebSocketResponse, session: RealtimeSession,
                      words: list[str]) -> None:
        if self.behaviour == "error":
            await ws.send_json({"type": "error", "error": {"message": "sk-leak-me boom"}})
        elif self.behaviour == "garbage":
            await ws.send_str("{not json")
        elif self.behaviour == "transcribe":
            sent = min(len(session.audio) // self.delta_every_bytes, max(len(words) - 1, 0))
            for word in words[sent:]:
                await ws.send_json(_delta(word + " "))
            await ws.send_json({"type": "conversation.item.input_audio_transcription.completed",
                                "item_id": "item_1", "content_index": 0,
                                "transcript": " ".join(words)})


def _delta(text: str) -> dict[str, Any]:
    return {"type": "conversation.item.input_audio_transcription.delta", "item_id": "item_1",
            "content_index": 0, "delta": text}
