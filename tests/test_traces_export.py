"""Traces leave the real `voice-mcp serve` over OTLP/HTTP, configured only by `OTEL_*`
variables (docs/operations.md, "Traces"): one trace per command, continuing the caller's
`traceparent`, carried on to the LLM server."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from tests.cluster import wait_ready
from tests.fakes.openai_server import OpenAIServer, text
from tests.otlp_receiver import OtlpReceiver, attributes
from tests.test_operations import serve


@pytest.fixture
async def receiver() -> AsyncIterator[OtlpReceiver]:
    found = await OtlpReceiver().start()
    try:
        yield found
    finally:
        await found.stop()


async def test_a_command_is_exported_as_one_trace_under_the_callers_traceparent(
        tmp_path: Path, openai_server: OpenAIServer, receiver: OtlpReceiver,
        redis_url: str) -> None:
    trace_id, parent_id = secrets.token_hex(16), secrets.token_hex(8)
    openai_server.script(text("Hello there."))
    async with serve(tmp_path, openai_server, VOICE_MCP_REDIS_URL=redis_url,
                     OTEL_EXPORTER_OTLP_ENDPOINT=receiver.url,
                     OTEL_BSP_SCHEDULE_DELAY="20") as served, \
            aiohttp.ClientSession() as session:
        async with asyncio.timeout(60):
            await wait_ready(session, served.base)
            resp = await session.post(served.base + "/api/voice/llm", json={"query": "say hi"},
                                      headers={**served.auth,
                                               "traceparent": f"00-{trace_id}-{parent_id}-01"})
            done = await resp.json()
            events = f"/api/voice/commands/{done['commandId']}/events"
            async with session.get(served.base + events, headers=served.auth) as reread:
                assert "event: done" in await reread.text()
            root = await receiver.wait_for("command")
            reader = await receiver.wait_for("GET /api/voice/commands/{command_id}/events")
    assert done["status"] == "completed"
    assert receiver.content_types == {"application/x-protobuf"}
    assert root.trace_id.hex() == trace_id
    # A reader resuming the command's events is its own trace, linked to the command's.
    [link] = reader.links
    assert link.trace_id == root.trace_id and reader.trace_id != root.trace_id
    assert attributes(root)["commandId"] == done["commandId"]
    ours = {s.span_id: s for _, s in receiver.spans if s.trace_id == root.trace_id}
    # The server span continues the caller's trace; the command's root hangs below it.
    server = ours[root.parent_span_id]
    assert server.parent_span_id.hex() == parent_id and server.name.startswith("POST")
    stages = [s.name for s in sorted(ours.values(), key=lambda s: s.start_time_unix_nano)
              if s.parent_span_id == root.span_id]
    assert stages[-2:] == ["discover", "plan"] and "analyze" in stages
    resources = {r.get("service.name") for r, s in receiver.spans if s.span_id in ours}
    assert resources == {"voice-mcp"}
    # The LLM server got our trace context (the aiohttp client instrumentation).
    sent = openai_server.requests[-1].headers.get("traceparent", "")
    assert sent.split("-")[1] == trace_id
    [chat] = [s for s in ours.values() if s.name == "chat gpt-5-mini"]
    assert sent.split("-")[2] != chat.span_id.hex()  # the HTTP client span inside it
    assert any(s.parent_span_id == chat.span_id and s.span_id.hex() == sent.split("-")[2]
               for s in ours.values())
