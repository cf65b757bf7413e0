"""The timings of one command: consecutive stage laps, the parts inside them, the first delta.

Kept apart from what the command decides so that a stage (or a tracing span later) can
charge its time without touching the outcome; see docs/streaming.md for the wire names.
"""

from __future__ import annotations

import time
from typing import Literal

from voice_mcp.services import tracing
from voice_mcp.services.metrics import Metrics

# The stage laps, as `done.timings` names them (docs/streaming.md). Every stage ends in one
# `lap`, so that call is where a stage's span or event hooks in.
StageLap = Literal["transcribe", "analyze", "discover", "plan", "execute", "hold", "summarize"]


class Timings:
    """One clock per command: stages add up to `totalExecutionTime`, details sit inside them."""

    def __init__(self) -> None:
        self.started = time.perf_counter()
        self._lap = self.started
        self.stages: dict[StageLap, float] = {}  # ms, additive
        self.details: dict[str, float] = {}  # ms, parts inside a stage (an LLM round, a tool)
        self.first_delta: float | None = None  # ms since the start

    def lap(self, stage: StageLap) -> None:
        """Charge the time since the previous lap to `stage`.

        Stages are consecutive laps of one clock, so they add up to `totalExecutionTime`
        (docs/streaming.md); whatever ran between two stages counts toward the next.
        """
        tracing.lap(stage)
        now = time.perf_counter()
        self.stages[stage] = self.stages.get(stage, 0.0) + (now - self._lap) * 1000
        self._lap = now

    def detail(self, name: str, seconds: float) -> None:
        """Record one part inside a stage (an LLM round, a tool call), in the done timings."""
        self.details[name] = seconds * 1000

    def delta_sent(self) -> None:
        """Note the first piece of the answer leaving (the time a listener starts hearing)."""
        if self.first_delta is None:
            self.first_delta = self.elapsed_ms()

    def elapsed_ms(self) -> float:
        return (time.perf_counter() - self.started) * 1000

    def view(self) -> dict[str, int]:
        """Stages (additive), then the parts inside them and `firstDelta`, in whole ms."""
        view: dict[str, int] = {k: round(v) for k, v in self.stages.items()}
        view.update({k: round(v) for k, v in self.details.items()})
        if self.first_delta is not None:
            view["firstDelta"] = round(self.first_delta)
        return view

    def observe(self, metrics: Metrics) -> None:
        """Feed the stage latencies and the first delta to the metrics, once per command."""
        for stage, ms in self.stages.items():
            metrics.stage_latency.labels(stage).observe(ms / 1000)
        if self.first_delta is not None:
            metrics.first_delta.observe(self.first_delta / 1000)
