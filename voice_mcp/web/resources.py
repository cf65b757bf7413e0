"""The app's long-lived resources, each opened and closed by one cleanup context."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from aiohttp import web

from voice_mcp.dev_auth import state_home
from voice_mcp.services.commands import CancelListener, CommandRegistry, new_instance_id
from voice_mcp.services.commands.redis_keys import input_channel
from voice_mcp.services.container import build_services
from voice_mcp.services.intents.startup import check_templates
from voice_mcp.services.store import Redis, ping, redis_for
from voice_mcp.services.stt.streaming import StreamingSpeech
from voice_mcp.services.stt.warmup import WarmUp
from voice_mcp.settings import Settings
from voice_mcp.web import keys

log = logging.getLogger(__name__)


async def redis_context(app: web.Application) -> AsyncIterator[None]:
    """Open the one Redis pool (starting an embedded server when no URL is set)."""
    settings = app[keys.SETTINGS]
    home = state_home(settings.state_dir)
    async with redis_for(settings.redis_url, cluster=settings.redis_cluster,
                         home=home) as (client, _embedded):
        app[keys.REDIS] = client
        reason = await ping(client)
        if reason is not None:  # start anyway: readiness says 503 until Redis answers
            log.warning("%s; /readyz answers 503 until it does", reason)
        yield


async def services_context(app: web.Application) -> AsyncIterator[None]:
    """Build the services on the shared Redis; close their connections on the way out."""
    settings, catalog, redis = app[keys.SETTINGS], app[keys.CATALOG], app[keys.REDIS]
    built = build_services(settings, catalog, redis, intents=app[keys.INTENTS],
                           metrics=app[keys.METRICS], lifecycle=app[keys.LIFECYCLE])
    app[keys.MCP] = built.mcp
    app[keys.OAUTH] = built.oauth
    app[keys.HISTORY] = built.history
    app[keys.ORCHESTRATOR] = built.orchestrator
    app[keys.CAPABILITIES] = built.capabilities
    app[keys.RATE_LIMITER] = built.rate_limiter
    app[keys.SPEECH] = built.speech
    app[keys.LISTENING] = built.listening
    app[keys.ASKING] = built.asking
    app[keys.TRANSCRIBER] = built.transcriber
    try:
        await check_templates(app[keys.INTENTS], catalog, built.mcp)  # a wrong template stops here
        async with commands_running(app, settings, redis), warming(app, built.listening):
            yield
    finally:
        await built.aclose()


@contextlib.asynccontextmanager
async def warming(app: web.Application, listening: StreamingSpeech) -> AsyncIterator[None]:
    """Load the speech recogniser in the background from start-up, so the first spoken
    command is as fast as the tenth; `/readyz` waits for it (services/stt/warmup.py);
    stopped if the app closes first."""
    state = app[keys.SPEECH_WARMUP] = WarmUp()
    task = asyncio.create_task(listening.warm())
    task.add_done_callback(_warm_failed)
    task.add_done_callback(lambda done: state.finished(
        failed=done.cancelled() or done.exception() is not None))
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task


def _warm_failed(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.warning("the speech recogniser did not load: %s", type(task.exception()).__name__)


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
    answers = CancelListener(redis, registry.instance_id, app[keys.ASKING].on_message,
                             channel=input_channel(registry.instance_id))
    registry.upkeep.spawn(registry.upkeep.run())
    registry.upkeep.spawn(listener.run())
    registry.upkeep.spawn(answers.run())
    try:
        yield
    finally:
        listener.stopping = answers.stopping = True
        await registry.upkeep.close()
        await registry.feeds.close()
