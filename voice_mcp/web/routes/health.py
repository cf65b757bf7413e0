"""Liveness, readiness and metrics."""

from __future__ import annotations

from aiohttp import web

from voice_mcp.services import store
from voice_mcp.services.metrics_access import PROXY_HEADERS, check_metrics_access
from voice_mcp.web import keys

routes = web.RouteTableDef()


@routes.get("/healthz")
async def healthz(_request: web.Request) -> web.Response:
    """Answer while the process runs."""
    return web.json_response({"status": "ok"})


@routes.get("/readyz")
async def readyz(request: web.Request) -> web.Response:
    """Answer 200 when Redis answers, no drain began and the speech recogniser has loaded
    (or its load failed or ran past its bound: `speech` says so), 503 with the reason
    otherwise (docs/operations.md, "Readiness")."""
    if request.app[keys.LIFECYCLE].draining:
        return web.json_response(
            {"status": "draining", "error": {"code": "draining",
                                             "message": "shutting down; send traffic elsewhere"}},
            status=503)
    reason = await store.ping(request.app[keys.REDIS])
    if reason is not None:
        return web.json_response(
            {"status": "unavailable", "error": {"code": "redis_unavailable", "message": reason}},
            status=503)
    warm = request.app.get(keys.SPEECH_WARMUP)
    if warm is not None and warm.holds_readiness:
        return web.json_response(
            {"status": "starting", "error": {"code": "speech_loading",
                                             "message": "loading the speech recogniser"}},
            status=503)
    if warm is not None and warm.state != "ready":
        return web.json_response({"status": "ready", "speech": warm.state})
    return web.json_response({"status": "ready"})


@routes.get("/metrics")
async def metrics(request: web.Request) -> web.Response:
    """Prometheus text exposition, for the metrics token's holder or a local scraper only."""
    token = request.app[keys.SETTINGS].metrics_token
    check_metrics_access(token.get_secret_value() if token else None,
                         request.headers.get("Authorization", ""), request.remote,
                         proxied=any(h in request.headers for h in PROXY_HEADERS))
    body = request.app[keys.METRICS].render()
    return web.Response(body=body, content_type="text/plain", charset="utf-8",
                        headers={"X-Metrics-Format": "0.0.4"})
