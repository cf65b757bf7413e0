"""The application factory: settings in, a wired aiohttp application out."""

from __future__ import annotations

from aiohttp import web

from voice_mcp.services.auth import TokenVerifier
from voice_mcp.services.catalog import Catalog, load_catalog
from voice_mcp.services.intents.startup import load_local_intents
from voice_mcp.services.lifecycle import Lifecycle
from voice_mcp.services.metrics import Metrics
from voice_mcp.services.tracing.setup import configure as configure_tracing
from voice_mcp.services.tracing.setup import flushed
from voice_mcp.settings import Settings
from voice_mcp.web import keys
from voice_mcp.web.listen_limits import SocketCount
from voice_mcp.web.middleware import authenticate, errors, request_context
from voice_mcp.web.resources import redis_context, services_context
from voice_mcp.web.routes import commands, console, health, listen, services, speech, voice
from voice_mcp.web.security_headers import add_security_headers


def create_app(settings: Settings, *, catalog: Catalog | None = None) -> web.Application:
    """Build the app: shared objects, resources as cleanup contexts, middlewares, routes."""
    if catalog is None:
        catalog = load_catalog(settings.catalog_file, token_keys=settings.token_keys)
    tracing = configure_tracing(settings)  # first: server spans come with the Application
    app = web.Application(middlewares=[request_context, errors, authenticate],
                          client_max_size=1024 * 1024)
    if tracing:
        app.on_cleanup.append(flushed)
    app[keys.SETTINGS] = settings
    app[keys.CATALOG] = catalog
    app[keys.METRICS] = Metrics()
    app[keys.TOKEN_VERIFIER] = TokenVerifier(settings)
    app[keys.INTENTS] = load_local_intents(settings, catalog)
    app[keys.LIFECYCLE] = Lifecycle()
    app[keys.LISTEN_SOCKETS] = SocketCount()
    app.on_shutdown.append(_close_listen_sockets)
    app.on_response_prepare.append(add_security_headers)
    app.cleanup_ctx.append(redis_context)
    app.cleanup_ctx.append(services_context)
    app.add_routes(health.routes)
    app.add_routes(voice.routes)
    app.add_routes(listen.routes)
    app.add_routes(commands.routes)
    app.add_routes(speech.routes)
    app.add_routes(services.routes)
    app.add_routes(console.routes)
    return app


async def _close_listen_sockets(app: web.Application) -> None:
    await app[keys.LISTEN_SOCKETS].close_all()
