"""When sentence templates answer (VOICE_MCP_LOCAL_INTENTS), chosen once at start-up.

Each mode answers the same three questions the pipeline asks at its fixed points, so the
pipeline reads the same whatever the mode: read the history first? try the templates before
the LLM? without an LLM? after the LLM failed? (docs/local-intents.md).
"""

from __future__ import annotations

from voice_mcp.errors import AppError
from voice_mcp.services.orchestrator.deps import Deps
from voice_mcp.services.orchestrator.local import NOT_TRIED, LocalAttempt, answer_locally
from voice_mcp.services.orchestrator.run import Run


class LocalMode:
    """`off`: the templates never answer; the LLM, when configured, does."""

    # A template's answer reads no earlier turns: with templates first, the history (a Redis
    # round trip) is read only once the LLM, or a hold, needs it.
    reads_history_first = True

    def __init__(self, deps: Deps) -> None:
        self.deps = deps

    async def before_llm(self, run: Run) -> LocalAttempt:
        """Try the templates before the LLM is asked."""
        return NOT_TRIED

    async def without_llm(self, run: Run, earlier: LocalAttempt) -> LocalAttempt:
        """Try the templates when no LLM is configured; `earlier` is what `before_llm` gave."""
        return earlier

    async def after_llm_failure(self, run: Run, err: AppError) -> bool:
        """Answer from a template after the LLM failed; True when one did."""
        return False


class PreferTemplates(LocalMode):
    """`prefer`: a template that matches answers, without asking the LLM."""

    reads_history_first = False

    async def before_llm(self, run: Run) -> LocalAttempt:
        return await answer_locally(self.deps, run)


class FallbackToTemplates(LocalMode):
    """`fallback`: templates answer when there is no LLM, or it failed before anything ran."""

    async def without_llm(self, run: Run, earlier: LocalAttempt) -> LocalAttempt:
        return await answer_locally(self.deps, run)

    async def after_llm_failure(self, run: Run, err: AppError) -> bool:
        if not err.code.startswith("llm_") or run.outcome.results:
            return False
        return (await answer_locally(self.deps, run)).answered


MODES: dict[str, type[LocalMode]] = {"off": LocalMode, "prefer": PreferTemplates,
                                     "fallback": FallbackToTemplates}


def choose_local_mode(deps: Deps) -> LocalMode:
    """The mode the settings name."""
    return MODES[deps.settings.local_intents](deps)
