"""The composition root: every long-lived service built in one place, from the settings.

The web layer's cleanup context calls `build_services` and `Services.aclose`; nothing here
knows about HTTP, and no service gets a collaborator set on it after construction.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

from voice_mcp.dev_auth import state_home
from voice_mcp.services.asking.broker import InputBroker
from voice_mcp.services.asking.reading import WordReader
from voice_mcp.services.asking.sampling import Sampler
from voice_mcp.services.capabilities import Capabilities
from voice_mcp.services.catalog import Catalog
from voice_mcp.services.confirmations import ConfirmationStore
from voice_mcp.services.connections import Connections
from voice_mcp.services.history import HistoryStore
from voice_mcp.services.intents import LocalIntents
from voice_mcp.services.intents.startup import speech_grammar
from voice_mcp.services.lifecycle import Lifecycle
from voice_mcp.services.llm.client import LLMClient
from voice_mcp.services.mcp.manager import McpManager
from voice_mcp.services.metrics import Metrics
from voice_mcp.services.oauth.service import OAuthService
from voice_mcp.services.orchestrator import Orchestrator
from voice_mcp.services.orchestrator.deps import Deps
from voice_mcp.services.ratelimit import CommandRateLimiter
from voice_mcp.services.sealing import RecordSigner
from voice_mcp.services.store import Redis
from voice_mcp.services.stt.choose import SpeechToText, make_speech_to_text
from voice_mcp.services.stt.streaming import StreamingSpeech, make_streaming
from voice_mcp.services.tool_index.factory import offering_for
from voice_mcp.services.tool_index.service import ToolOffering
from voice_mcp.services.tts import Synthesizer
from voice_mcp.settings import Settings


@dataclass(frozen=True, slots=True)
class Services:
    """What the routes use, and the connection owners `aclose` closes."""

    mcp: McpManager
    oauth: OAuthService
    history: HistoryStore
    orchestrator: Orchestrator
    capabilities: Capabilities
    rate_limiter: CommandRateLimiter
    speech: Synthesizer
    llm: LLMClient
    transcriber: SpeechToText
    listening: StreamingSpeech  # the listen socket's recogniser, over `transcriber`
    offering: ToolOffering
    asking: InputBroker

    async def aclose(self) -> None:
        """Close every connection pool and session, each even if another fails."""
        async with contextlib.AsyncExitStack() as stack:
            for closer in (self.llm.close, self.transcriber.close, self.speech.close,
                           self.oauth.close, self.mcp.close, self.offering.close):
                stack.push_async_callback(closer)


def _sessions(settings: Settings, catalog: Catalog, redis: Redis) -> tuple[OAuthService,
                                                                          McpManager]:
    """OAuth and MCP, which know each other: a changed grant closes that user's sessions."""
    mcp: McpManager | None = None

    async def grant_changed(user_id: str, service_id: str) -> None:
        if mcp is not None:
            await mcp.close_user_sessions(user_id, service_id)

    oauth = OAuthService(settings, catalog, redis, on_connected=grant_changed,
                         on_disconnected=grant_changed)
    mcp = McpManager(catalog, redis, token_provider=oauth, call_timeout_s=settings.tool_timeout_s,
                     discovery_timeout_s=settings.discovery_timeout_s,
                     cache_ttl_s=settings.tools_cache_ttl_s,
                     stdio_workdirs=state_home(settings.state_dir) / "services",
                     signer=RecordSigner.for_settings(settings))
    return oauth, mcp


def build_services(settings: Settings, catalog: Catalog, redis: Redis, *, intents: LocalIntents,
                   metrics: Metrics, lifecycle: Lifecycle) -> Services:
    """Build the services on the shared Redis pool; the caller closes them with `aclose`."""
    oauth, mcp = _sessions(settings, catalog, redis)
    llm = LLMClient(settings)
    transcriber = make_speech_to_text(
        settings, lambda known: speech_grammar(intents, known), intents.knows)
    history = HistoryStore(redis)
    directory = Connections(catalog, oauth)
    offering = offering_for(settings, catalog, redis)
    asking = InputBroker(redis, settings.input_timeout_s, Sampler(llm, redis),
                         WordReader(llm, redis))
    deps = Deps(settings=settings, catalog=catalog, mcp=mcp, llm=llm, history=history,
                confirmations=ConfirmationStore(redis, settings.confirmation_ttl_s),
                directory=directory, transcriber=transcriber, metrics=metrics,
                offering=offering, intents=intents, lifecycle=lifecycle, asking=asking)
    return Services(
        mcp=mcp, oauth=oauth, history=history, orchestrator=Orchestrator(deps),
        capabilities=Capabilities(catalog, directory, mcp, intents,
                                  llm_configured=settings.llm_configured),
        rate_limiter=CommandRateLimiter(redis, settings.rate_limit_per_minute),
        speech=Synthesizer.from_settings(settings), llm=llm, transcriber=transcriber,
        listening=make_streaming(transcriber), offering=offering, asking=asking)
