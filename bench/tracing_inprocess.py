"""Tracing on vs off per command inside one server process, alternating command by command.

The two-server comparison (bench/tracing.py) is the honest end-to-end figure but, on a busy
machine, each server's share of the CPU moves under it. Here one app serves both: before
each command a switch turns recording on or off (the SDK's sampler drops every span when
off, and our helpers return at once), so drift hits both alike. Per command: wall time and
the CPU of the event loop's thread (the server's request path and the client in this
process; the exporter's thread is not counted). "Off" still runs the SDK's sampling and the
aiohttp middleware, so it is a little dearer than no SDK at all: the difference is a floor.
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestClient, TestServer
from opentelemetry.instrumentation.aiohttp_client import AioHttpClientInstrumentor
from opentelemetry.sdk.trace.sampling import Decision, Sampler, SamplingResult

from bench.local_intents import COMMAND, INTENTS, catalog
from bench.processes import llm_server
from bench.tracing import rows, summary
from tests.otlp_receiver import OtlpReceiver
from voice_mcp.services import tracing
from voice_mcp.services.auth import issue_dev_token
from voice_mcp.services.tracing.setup import install_sdk
from voice_mcp.settings import Settings
from voice_mcp.web.app import create_app


class Switch(Sampler):
    """Record everything while `on`, nothing otherwise."""

    on = True

    def should_sample(self, parent_context: Any, trace_id: int, name: str,
                      kind: Any = None, attributes: Any = None, links: Sequence[Any] | None = None,
                      trace_state: Any = None) -> SamplingResult:
        return SamplingResult(Decision.RECORD_AND_SAMPLE if self.on else Decision.DROP)

    def get_description(self) -> str:
        return "switch"


SWITCH = Switch()


async def compare(rounds: int, local: bool) -> dict[str, float]:
    """Median wall ms and loop-thread CPU ms per command, on and off, alternating."""
    async with llm_server() as llm:
        with tempfile.TemporaryDirectory() as scratch:
            settings = Settings(_env_file=None, jwt_secret="b" * 40,
                                services_file=catalog(Path(scratch)), intents_dir=INTENTS,
                                local_intents="prefer" if local else "off",
                                llm_base_url=llm.base_url, rate_limit_per_minute=0)
            client = TestClient(TestServer(create_app(settings)))
            await client.start_server()
            # Only the server's spans count: the bench's own client makes none.
            AioHttpClientInstrumentor.uninstrument_session(client.session)
            try:
                return await _alternate(client, settings, SWITCH, rounds)
            finally:
                await client.close()


async def _alternate(client: TestClient[Any, Any], settings: Settings, switch: Switch,
                     rounds: int) -> dict[str, float]:
    headers = {"Authorization": f"Bearer {issue_dev_token(settings, 'b')}"}
    found: dict[bool, tuple[list[float], list[float]]] = {True: ([], []), False: ([], [])}
    for i in range(2 * (rounds + 5)):
        switch.on = tracing.STATE.enabled = bool(i % 2)
        wall, cpu = time.perf_counter(), time.thread_time()
        async with client.post("/api/voice/llm", json={"query": COMMAND},
                               headers=headers) as response:
            done = await response.json()
        assert done["status"] == "completed" and done["results"], done
        if i >= 10:
            found[switch.on][0].append((time.perf_counter() - wall) * 1000)
            found[switch.on][1].append((time.thread_time() - cpu) * 1000)
    tracing.STATE.enabled = True
    (on_wall, on_cpu), (off_wall, off_cpu) = found[True], found[False]
    return summary(off_wall, on_wall, statistics.median(off_cpu), statistics.median(on_cpu))


def table(found: dict[str, dict[str, float]], rounds: int) -> str:
    """The figures as markdown (appended to bench/tracing.py's section)."""
    lines = ["", f"One process, tracing switched on and off command by command ({rounds} each); "
                 "medians per command (python -m bench.tracing --in-process):", "",
             *rows(found, "loop-thread CPU")]
    return "\n".join(lines) + "\n"


async def measure(rounds: int) -> dict[str, dict[str, float]]:
    """Both commands against one receiver and one tracer provider (one per process)."""
    receiver = await OtlpReceiver().start()
    os.environ["OTEL_EXPORTER_OTLP_ENDPOINT"] = receiver.url
    install_sdk(sampler=SWITCH)
    try:
        return {"template": await compare(rounds, local=True),
                "llm": await compare(rounds, local=False)}
    finally:
        os.environ.pop("OTEL_EXPORTER_OTLP_ENDPOINT", None)  # servers started later: untraced
        await receiver.stop()

