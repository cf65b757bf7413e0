"""The speech recogniser's background load at start-up, as readiness sees it
(docs/operations.md, "Readiness"): `/readyz` says 503 `speech_loading` while it runs, so a
load balancer that routes by readiness never sends a spoken command to a recogniser still
being built. Bounded: once the load failed, or after `limit_s`, readiness no longer waits for
it (a broken or stuck model must not keep an instance out of rotation; commands then report
their own speech errors)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Literal

WARM_LIMIT_S = 60.0  # a load still running after this no longer holds readiness back

WarmState = Literal["loading", "ready", "failed"]


class WarmUp:
    """The state of one load: `loading` until `finished` says how it ended."""

    def __init__(self, limit_s: float = WARM_LIMIT_S,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.limit_s = limit_s
        self._clock = clock
        self._started = clock()
        self.state: WarmState = "loading"

    def finished(self, *, failed: bool) -> None:
        self.state = "failed" if failed else "ready"

    @property
    def holds_readiness(self) -> bool:
        """True while the load runs and has not yet run past `limit_s`."""
        return self.state == "loading" and self._clock() - self._started < self.limit_s
