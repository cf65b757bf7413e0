"""The app's long-lived resources, each opened and closed by one cleanup context."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator

from aiohttp import web

from voice_mcp.services.capabilities import Capabilities
from voice_mcp.services.commands import CancelListener, CommandRegistry, new_instance_id
from voice_mcp.services.confirmations import ConfirmationStore
from voice_mcp.services.connections import Connections
from voice_mcp.services.history import HistoryStore
from voice_mcp.services.intents.startup import check_templates, speech_grammar
from voice_mcp.services.llm.client import LLMClient
from voice_mcp.services.mcp.manager import McpManager
from voice_mcp.services.oauth.service import OAuthService
from voice_mcp.services.orchestrator import Orchestrator
from voice_mcp.services.orchestrator.deps import Deps
from voice_mcp.services.ratelimit import CommandRateLimiter
from voice_mcp.services.store import Redis, ping, redis_for
from voice_mcp.services.stt.choose import make_speech_to_text
from voice_mcp.services.tool_index.factory import offering_for
from voice_mcp.services.tts import Synthesizer
from voice_mcp.settings import Settings
from voice_mcp.web import keys

log = logging.getLogger(__name__)


async def redis_context(app: web.Application) -> AsyncIterator[None]:
    """Open the one Redis pool (starting an embedded server when no URL is set)."""
    settings = app[keys.SETTINGS]
    async with redis_for(settings.redis_url, cluster=settings.redis_cluster) as (client, _):
        app[keys.REDIS] = client
        reason = await ping(client)
        if reason is not None:  # start anyway: readiness says 503 until Redis answers
            log.warning("%s; /readyz answers 503 until it does", reason)
        yield


async def services_context(app: web.Application) -> AsyncIterator[None]:
    """Build the services on the shared Redis; close their connections on the way out."""
    settings, catalog, redis = app[keys.SETTINGS], app[keys.CATALOG], app[keys.REDIS]
    oauth = OAuthService(settings, catalog, redis)
    mcp = McpManager(catalog, redis, token_provider=oauth, call_timeout_s=settings.tool_timeout_s,
                     discovery_timeout_s=settings.discovery_timeout_s,
                     cache_ttl_s=settings.tools_cache_ttl_s)
    oauth.on_connected = mcp.close_user_sessions
    oauth.on_disconnected = mcp.close_user_sessions
    llm = LLMClient(settings)
    intents = app[keys.INTENTS]
    transcriber = make_speech_to_text(
        settings, lambda known: speech_grammar(intents, known), intents.knows)
    speech = Synthesizer(settings)
    history = HistoryStore(redis)
    directory = Connections(catalog, oauth)
    offering = offering_for(settings, catalog, redis)
    deps = Deps(settings=settings, catalog=catalog, mcp=mcp, llm=llm, history=history,
                confirmations=ConfirmationStore(redis, settings.confirmation_ttl_s),
                directory=directory, transcriber=transcriber, metrics=app[keys.METRICS],
                offering=offering, intents=intents, lifecycle=app[keys.LIFECYCLE])
    app[keys.MCP] = mcp
    app[keys.OAUTH] = oauth
    app[keys.HISTORY] = history
    app[keys.ORCHESTRATOR] = Orchestrator(deps)
    app[keys.CAPABILITIES] = Capabilities(catalog, directory, mcp, intents,
                                          llm_configured=settings.llm_configured)
    app[keys.RATE_LIMITER] = CommandRateLimiter(redis, settings.rate_limit_per_minute)
    app[keys.SPEECH] = speech
    try:
        await check_templates(intents, catalog, mcp)  # a wrong template stops start-up here
        async with commands_running(app, settings, redis):
            yield
    finally:
        async with contextlib.AsyncExitStack() as stack:
            for closer in (llm.close, transcriber.close, speech.close, oauth.close, mcp.close,
                           offering.close):
                stack.push_async_callback(closer)


@contextlib.asynccontextmanager
async def commands_running(app: web.Application, settings: Settings,
                           redis: Redis) -> AsyncIterator[None]:
    """The command registry with its lease loop and cancel listener; on exit, commands stop
    (before the MCP sessions close, so their tool calls are cancelled, not cut)."""
    registry = CommandRegistry(redis, new_instance_id(), grace_s=settings.resume_grace_s,
                               events_ttl_s=settings.events_ttl_s,
                               budget_s=settings.request_timeout_s)
    app[keys.COMMANDS] = registry
    listener = CancelListener(redis, registry.instance_id, registry.cancel_local)
    registry.upkeep.spawn(registry.upkeep.run())
    registry.upkeep.spawn(listener.run())
    try:
        yield
    finally:
        listener.stopping = True
        await registry.upkeep.close()
