"""Middlewares: request id, access log and metrics; errors to JSON; bearer-token auth."""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Awaitable, Callable

from aiohttp import web

from voice_mcp.errors import AppError, Unauthorized, to_app_error
from voice_mcp.logs import request_id_var
from voice_mcp.web import keys

log = logging.getLogger("voice_mcp.http")
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

PROTECTED_PREFIXES = ("/api/voice", "/api/services")
# A browser cannot set a WebSocket's headers: the listen route reads the token from its first
# message or the header itself (web/routes/listen.py).
OWN_AUTH = frozenset({"/api/voice/listen"})
HTTP_CODES = {
    400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
    405: "method_not_allowed", 409: "conflict", 410: "gone", 413: "payload_too_large",
    415: "unsupported_media_type", 429: "rate_limited", 503: "service_unavailable",
}
USER_ID = web.RequestKey("user_id", str)


def error_response(status: int, code: str, message: str,
                   headers: dict[str, str] | None = None) -> web.Response:
    """The JSON error body (docs/api.md, "Errors")."""
    return web.json_response({"error": {"code": code, "message": message}}, status=status,
                             headers=headers)


def _route_name(request: web.Request) -> str:
    info = request.match_info.route.resource
    return info.canonical if info is not None else "unmatched"


@web.middleware
async def request_context(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Give each request an id, log it (path only: queries may carry codes) and count it."""
    request_id = request.headers.get("X-Request-Id", "")
    if not (0 < len(request_id) <= 64 and request_id.replace("-", "").isalnum()):
        request_id = secrets.token_hex(8)
    token = request_id_var.set(request_id)
    started = time.perf_counter()
    status = 500
    try:
        response = await handler(request)
        status = response.status
        if not response.prepared:
            response.headers["X-Request-Id"] = request_id
        return response
    except web.HTTPException as exc:
        status = exc.status
        exc.headers["X-Request-Id"] = request_id
        raise
    finally:
        elapsed = time.perf_counter() - started
        metrics = request.app[keys.METRICS]
        route = _route_name(request)
        metrics.http_requests.labels(request.method, route, str(status)).inc()
        metrics.http_latency.labels(request.method, route).observe(elapsed)
        log.info("%s %s %s", request.method, request.path, status,
                 extra={"status": status, "duration_ms": round(elapsed * 1000, 2)})
        request_id_var.reset(token)


@web.middleware
async def errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Turn every failure into the JSON error body; never leak a trace or a secret."""
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        code = HTTP_CODES.get(exc.status, "http_error")
        message = exc.reason if exc.status != 404 else "No such resource."
        headers = {k: v for k, v in exc.headers.items() if k in ("Allow", "Retry-After")}
        return error_response(exc.status, code, message, headers)
    except Exception as exc:
        return _app_error_response(to_app_error(exc))


def _app_error_response(err: AppError) -> web.Response:
    headers = {"Retry-After": str(err.retry_after)} if err.retry_after else None
    if err.status == 401:
        headers = {"WWW-Authenticate": f'Bearer error="{err.code}"'}
    response = error_response(err.status, err.code, err.message, headers)
    if err.status == 413:
        response.force_close()  # don't spend bandwidth draining the rest of the upload
    return response


@web.middleware
async def authenticate(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Require a valid bearer token on the API and remember its user id."""
    if request.path.startswith(PROTECTED_PREFIXES) and request.path not in OWN_AUTH:
        header = request.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthorized("A bearer token is required.", code="missing_token")
        request[USER_ID] = await request.app[keys.TOKEN_VERIFIER].verify(token.strip())
    return await handler(request)


def user_id(request: web.Request) -> str:
    """The authenticated user of this request."""
    return request[USER_ID]
