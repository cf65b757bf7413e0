"""The fake OpenAI-compatible server in its own process, timing every request it handles.

Run as `python -m bench.llm_server`; it prints one JSON line `{"base_url", "control"}` and
serves until SIGTERM. It answers a single-tool command instantly: the first turn calls
`notes__list_notes`, the turn after a tool result is a short sentence; a transcription is
"list my notes". The control port answers:

- `GET /stats[?clear=1]`: request counts and the handler time of each chat and transcription
  request in milliseconds (`clear=1` empties the time lists);
- `POST /mode/hang`, `POST /mode/instant`: hold every chat request open, or answer again;
- `POST /delay?s=SECONDS`: wait that long before each answer (0: instantly);
- `POST /pace?first=SECONDS&rate=TOKENS_PER_S`: a realistic model: the first token after
  `first`, then `rate` tokens a second (a token is 4 characters); `first=0` answers at once;
- `GET /first-tokens?clear=1`: epoch seconds at which each chat answer's first token left;
- `GET /wait-hanging?count=N`: return once N chat requests are being held (30 s at most).

A separate process keeps the fake's CPU off the load generator's event loop; the handler
times are what the benchmark subtracts as "LLM-server time".
"""

from __future__ import annotations

import asyncio
import json
import signal
import time
from typing import Any

from aiohttp import web

from tests.fakes.openai_server import (
    OpenAIServer,
    Turn,
    call,
    last_user_text,
    text,
    tool_results,
    tool_turn,
)

TOOL_NAME = "notes__list_notes"
DELETE_NAME = "notes__delete_note"
TIME_NAME = "time__get_current_time"  # offered in bench/local_intents.py's catalog
ANSWER = "You have two notes. Buy milk, and call the plumber."
TRANSCRIPT = "list my notes"


def respond(body: dict[str, Any]) -> Turn:
    """Call the one tool first (the delete tool when asked to delete, which waits for a
    confirmation; the time in Tokyo when the time service is what is offered); answer once a
    result is in the conversation."""
    if tool_results(body):
        return text(ANSWER)
    if "delete" in (last_user_text(body) or ""):
        return tool_turn(call(DELETE_NAME, {"note_id": 1}))
    offered = {tool.get("function", {}).get("name") for tool in body.get("tools") or []}
    if TIME_NAME in offered and TOOL_NAME not in offered:
        return tool_turn(call(TIME_NAME, {"timezone": "Asia/Tokyo"}))
    return tool_turn(call(TOOL_NAME, {}))


class TimedOpenAIServer(OpenAIServer):
    """The test fake, plus the wall time each request spent in its handler."""

    def __init__(self) -> None:
        super().__init__()
        self.record = False
        self.responder = respond
        self.transcription_responder = TRANSCRIPT
        self.chat_ms: list[float] = []
        self.transcription_ms: list[float] = []
        self.chat_total = 0
        self.transcription_total = 0

    async def _chat(self, request: web.Request) -> web.StreamResponse:
        started = time.perf_counter()
        self.chat_total += 1
        try:
            return await super()._chat(request)
        finally:
            self.chat_ms.append((time.perf_counter() - started) * 1000)

    async def _transcription(self, request: web.Request) -> web.StreamResponse:
        started = time.perf_counter()
        self.transcription_total += 1
        try:
            return await super()._transcription(request)
        finally:
            self.transcription_ms.append((time.perf_counter() - started) * 1000)


def control_app(server: TimedOpenAIServer) -> web.Application:
    """The benchmark's side door: counters, timings and the hang switch."""

    async def stats(request: web.Request) -> web.Response:
        body = {"chat_count": server.chat_total, "transcription_count": server.transcription_total,
                "hanging": server.hanging, "chat_ms": list(server.chat_ms),
                "transcription_ms": list(server.transcription_ms)}
        if request.query.get("clear") == "1":
            server.chat_ms.clear()
            server.transcription_ms.clear()
        return web.json_response(body)

    async def hang(_: web.Request) -> web.Response:
        server.hang(times=None)
        return web.json_response({"mode": "hang"})

    async def instant(_: web.Request) -> web.Response:
        server.reset()  # drops the hang fault; our own counters are kept
        return web.json_response({"mode": "instant"})

    async def delay(request: web.Request) -> web.Response:
        server.delay_s = float(request.query.get("s", "0"))
        return web.json_response({"delay_s": server.delay_s})

    async def pace(request: web.Request) -> web.Response:
        first, rate = float(request.query.get("first", "0")), float(request.query.get("rate", "0"))
        server.first_token_delay_s = first
        server.token_interval_s = 1 / rate if rate > 0 else 0.0
        server.chunk_chars = 4 if rate > 0 else 7
        return web.json_response({"first": first, "rate": rate})

    async def first_tokens(request: web.Request) -> web.Response:
        times = list(server.first_token_at)
        if request.query.get("clear") == "1":
            server.first_token_at.clear()
        return web.json_response({"first_token_at": times})

    async def wait_hanging(request: web.Request) -> web.Response:
        count = int(request.query.get("count", "1"))
        async with asyncio.timeout(30):
            await server.wait_for_hanging(count)
        return web.json_response({"hanging": server.hanging})

    app = web.Application()
    app.router.add_get("/stats", stats)
    app.router.add_post("/mode/hang", hang)
    app.router.add_post("/mode/instant", instant)
    app.router.add_post("/delay", delay)
    app.router.add_get("/wait-hanging", wait_hanging)
    app.router.add_post("/pace", pace)
    app.router.add_get("/first-tokens", first_tokens)
    return app


async def serve() -> None:
    server = TimedOpenAIServer()
    await server.start()
    runner = web.AppRunner(control_app(server), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    control_port = runner.addresses[0][1]
    print(json.dumps({"base_url": server.base_url,
                      "control": f"http://127.0.0.1:{control_port}"}), flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        await runner.cleanup()
        await server.stop()


def main() -> None:
    asyncio.run(serve())


if __name__ == "__main__":
    main()
