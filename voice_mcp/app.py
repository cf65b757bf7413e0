"""The application factory: settings in, a wired aiohttp application out."""

from __future__ import annotations

from collections.abc import AsyncIterator

from aiohttp import web

from voice_mcp import keys
from voice_mcp.routes import health
from voice_mcp.routes.middleware import authenticate, errors, request_context
from voice_mcp.services.auth import TokenVerifier
from voice_mcp.services.catalog import Catalog, load_catalog
from voice_mcp.services.metrics import Metrics
from voice_mcp.services.store import redis_for
from voice_mcp.settings import Settings


async def redis_context(app: web.Application) -> AsyncIterator[None]:
    """Open the one Redis pool (starting an embedded server when no URL is set)."""
    async with redis_for(app[keys.SETTINGS].redis_url) as (client, _embedded):
        app[keys.REDIS] = client
        yield


def create_app(settings: Settings, *, catalog: Catalog | None = None) -> web.Application:
    """Build the app: shared objects, resources as cleanup contexts, middlewares, routes."""
    if catalog is None:
        catalog = load_catalog(settings.services_file, token_keys=settings.token_keys)
    app = web.Application(middlewares=[request_context, errors, authenticate],
                          client_max_size=1024 * 1024)
    app[keys.SETTINGS] = settings
    app[keys.CATALOG] = catalog
    app[keys.METRICS] = Metrics()
    app[keys.TOKEN_VERIFIER] = TokenVerifier(settings)
    app.cleanup_ctx.append(redis_context)
    app.add_routes(health.routes)
    return app
