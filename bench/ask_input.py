"""Bench: a service's question to the user and the answer back (docs/api.md, "Services that ask").

Two figures, each over N questions, with real parts: an SDK MCP server (in a thread, same
clock), two command registries (two instances) on one Redis, the real brokers and answer
channel.
- ask: from the server sending `elicitation/create` to the `input_required` event being
  emitted on the command's instance (target <= 5 ms);
- answer: from the other instance taking the answer (what `POST .../input` does after
  parsing) to the server receiving it (target <= 10 ms).

    .venv/bin/python -m bench.ask_input [--rounds 50]
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from mcp.server.mcpserver import Context, MCPServer

from bench.stats import Summary
from tests.fixtures.mcp_servers import make_catalog
from tests.mcp_servers.notes_server import ServerKnobs, ServerStats
from tests.mcp_servers.runner import RunningServer
from voice_mcp.services.asking.asker import CallAsker
from voice_mcp.services.asking.broker import InputBroker
from voice_mcp.services.asking.question import AnswerBody, Question
from voice_mcp.services.asking.scope import current_scope
from voice_mcp.services.commands import CancelListener, CommandInfo, CommandRegistry
from voice_mcp.services.commands.redis_keys import input_channel
from voice_mcp.services.mcp.manager import McpManager
from voice_mcp.services.store import redis_for

SCHEMA = {"type": "object", "required": ["ok"], "properties": {"ok": {"type": "boolean"}}}


@dataclass
class Clock:
    """perf_counter stamps from both sides (the server runs in this process)."""

    sent: list[float] = field(default_factory=list)
    received: list[float] = field(default_factory=list)


def build(clock: Clock) -> Any:
    def factory(stats: ServerStats, knobs: ServerKnobs) -> MCPServer:
        server = MCPServer("bench-asking", log_level="WARNING")

        @server.tool()
        async def confirm(ctx: Context) -> str:
            """Ask once."""
            clock.sent.append(time.perf_counter())
            result = await ctx.request_context.session.elicit_form(
                "OK?", SCHEMA, related_request_id=ctx.request_id)
            clock.received.append(time.perf_counter())
            return result.action

        return server
    return factory


@dataclass
class _Event:
    kind: str
    data: dict[str, Any]

    def wire(self) -> dict[str, Any]:
        return self.data


async def _command(manager: McpManager, broker: InputBroker, shown: asyncio.Queue[Any],
                   go: asyncio.Event) -> AsyncIterator[_Event]:
    yield _Event("progress", {"type": "analyzing", "message": "bench"})
    await go.wait()  # the command's record is in Redis, as after any first event
    scope = current_scope()
    assert scope is not None
    asker = CallAsker(broker, scope, service="asking", title="Bench", tool="confirm",
                      show=lambda q: shown.put_nowait((time.perf_counter(), q)),
                      tell=lambda _: None)
    result = await manager.call_tool("bench", "asking", "confirm", {}, asker=asker)
    yield _Event("done", {"status": "completed" if result.success else "failed"})


async def _one(manager: McpManager, owner: tuple[CommandRegistry, InputBroker],
               other: tuple[CommandRegistry, InputBroker], clock: Clock) -> tuple[float, float]:
    shown: asyncio.Queue[tuple[float, Question]] = asyncio.Queue()
    go = asyncio.Event()
    running = await owner[0].start(CommandInfo("bench", "q", "conv"),
                             _command(manager, owner[1], shown, go))
    async for _ in running.follow(0):  # the first event is out ...
        break
    await running.recorder.drain()  # ... and written, with the command's record
    go.set()
    at, question = await shown.get()
    ask_ms = (at - clock.sent[-1]) * 1000
    taken = time.perf_counter()
    await other[1].answer(other[0], "bench", running.id,
                          AnswerBody(input_id=question.input_id, answer="yes"))
    assert running.task is not None
    await running.task
    return ask_ms, (clock.received[-1] - taken) * 1000


async def main(rounds: int) -> None:
    clock = Clock()
    server = RunningServer("streamable-http", build=build(clock)).start()
    try:
        async with redis_for(None) as (redis, _):
            manager = McpManager(make_catalog(server.service("asking")), redis,
                                 protocol_mode="legacy")
            pairs: list[tuple[CommandRegistry, InputBroker]] = []
            for _ in range(2):
                registry = CommandRegistry(redis, f"bench-{len(pairs)}", grace_s=5,
                                           events_ttl_s=60, budget_s=30)
                pairs.append((registry, InputBroker(redis, 30)))
            listener = CancelListener(redis, "bench-0", pairs[0][1].on_message,
                                      channel=input_channel("bench-0"))
            listening = asyncio.create_task(listener.run())
            await manager.discover("bench", ["asking"])
            await _one(manager, pairs[0], pairs[1], clock)  # warm
            asks, answers = [], []
            for _ in range(rounds):
                ask_ms, answer_ms = await _one(manager, pairs[0], pairs[1], clock)
                asks.append(ask_ms)
                answers.append(answer_ms)
            listener.stopping = True
            await listening
            await manager.close()
    finally:
        server.stop()
    print(f"question -> input_required event (ms, target <= 5): {Summary.of(asks).text()}")
    print(f"answer on another instance -> server (ms, target <= 10): "
          f"{Summary.of(answers).text()}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=50)
    asyncio.run(main(parser.parse_args().rounds))
