"""Connecting services: list, connect (OAuth), the OAuth callback page, disconnect."""

from __future__ import annotations

import html
from urllib.parse import urlencode

from aiohttp import web
from yarl import URL

from voice_mcp.errors import AppError, NotFound, to_app_error
from voice_mcp.services.catalog import ServiceConfig
from voice_mcp.services.oauth import (
    CALLBACK_PATH,
    START_PATH,
    BrowserCookie,
    ConnectionStatus,
    OAuthService,
)
from voice_mcp.services.oauth.errors import CallbackError
from voice_mcp.services.oauth.registration import METADATA_DOCUMENT_PATH
from voice_mcp.web import keys
from voice_mcp.web.middleware import user_id
from voice_mcp.web.routes.parsing import read_json
from voice_mcp.web.schemas import GrantRequest

routes = web.RouteTableDef()

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body{{font-family:system-ui,sans-serif;max-width:32rem;margin:4rem auto;padding:0 1rem}}
h1{{font-size:1.4rem}} .ok{{color:#17803d}} .err{{color:#b42318}}</style></head>
<body><h1 class="{css}">{title}</h1><p>{message}</p>
<p>You can close this window and go back to the app.</p></body></html>"""


# The callback URL carries the code and state: keep it out of caches and Referer headers.
NO_TRACE = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}
PAGE_HEADERS = {**NO_TRACE, "Content-Security-Policy":
                "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'"}


def _page(title: str, message: str, *, ok: bool, status: int = 200) -> web.Response:
    body = PAGE.format(title=html.escape(title), message=html.escape(message),
                       css="ok" if ok else "err")
    return web.Response(text=body, content_type="text/html", status=status,
                        headers=PAGE_HEADERS)


def _back_to_app(return_url: str, **params: str) -> web.Response:
    """A redirect to the app's own page, the outcome added to whatever query it has."""
    location = str(URL(return_url).update_query(params))
    return web.Response(status=302, headers={**NO_TRACE, "Location": location})


@routes.get("/api/services")
async def list_services(request: web.Request) -> web.Response:
    catalog = request.app[keys.CATALOG]
    statuses = await request.app[keys.OAUTH].status(user_id(request))
    return web.json_response({"services": [
        _entry(service, statuses[service.id]) for service in catalog.services.values()]})


def _entry(service: ServiceConfig, status: ConnectionStatus) -> dict[str, object]:
    return {"id": service.id, "title": service.title, "auth": service.auth,
            "transport": service.transport, "connected": status.connected,
            "needsReauth": status.needs_reauth}


@routes.post("/api/services/{id}/connect")
async def connect(request: web.Request) -> web.Response:
    """A start link on this server (it binds the browser, then goes on to the provider)."""
    user = user_id(request)
    await request.app[keys.RATE_LIMITER].check(user)
    url = await request.app[keys.OAUTH].start(user, request.match_info["id"])
    return web.json_response({"authorizationUrl": url})


@routes.delete("/api/services/{id}")
async def disconnect(request: web.Request) -> web.Response:
    service_id = request.match_info["id"]
    if request.app[keys.CATALOG].get(service_id) is None:
        raise NotFound(f"Unknown service '{service_id}'.", code="service_not_found")
    await request.app[keys.OAUTH].disconnect(user_id(request), service_id)
    return web.Response(status=204)


def _failure(request: web.Request, err: AppError) -> web.Response:
    """A failed start or callback, for a browser: the error page, or back to the app."""
    service_id = err.service_id if isinstance(err, CallbackError) else None
    return_url = request.app[keys.SETTINGS].oauth_return_url
    if return_url:
        extra = {"service": service_id} if service_id else {}
        return _back_to_app(return_url, status="error", error=err.code, **extra)
    return _page("Connection failed", err.message, ok=False, status=err.status)


def _set_cookie(response: web.Response, cookie: BrowserCookie, oauth: OAuthService) -> None:
    response.set_cookie(cookie.name, cookie.value, max_age=cookie.max_age,
                        path=oauth.cookie_path, httponly=True, samesite="Lax",
                        secure=oauth.cookie_secure)


@routes.get(METADATA_DOCUMENT_PATH)
async def client_metadata(request: web.Request) -> web.Response:
    """The Client ID Metadata Document: authorization servers fetch it to learn this client."""
    return web.json_response(request.app[keys.OAUTH].client_metadata(),
                             headers={"Cache-Control": "public, max-age=3600"})


@routes.get(START_PATH)
async def oauth_start(request: web.Request) -> web.Response:
    """Open a start link: bind this browser to the state with a cookie, then go to the provider."""
    oauth = request.app[keys.OAUTH]
    try:
        started = await oauth.open_start(request.query.get("state"))
    except Exception as exc:
        return _failure(request, to_app_error(exc, "oauth start"))
    response = web.Response(status=302, headers={**NO_TRACE, "Location": started.url})
    _set_cookie(response, started.cookie, oauth)
    return response


@routes.get(CALLBACK_PATH)
async def oauth_callback(request: web.Request) -> web.Response:
    """Finish a sign-in in the browser that started it: back to the app with a grant handle.

    Nothing is stored here: the app (the console, or a native app at its return URL) hands the
    handle to `POST /api/services/{id}/grant` with its user's token (docs/oauth.md). Failures
    go back the same way with `error=<code>`. The browser-binding cookie is cleared whatever
    the outcome: a state works once.
    """
    query, oauth = request.query, request.app[keys.OAUTH]
    state = query.get("state")
    cookie = oauth.cookie_name(state) if state else None
    try:
        result = await oauth.complete(
            query.get("code"), state, query.get("error"), iss=query.get("iss"),
            browser_secret=request.cookies.get(cookie) if cookie else None)
    except Exception as exc:
        err = to_app_error(exc, "oauth callback")
        service_id = err.service_id if isinstance(err, CallbackError) else None
        response = _to_app(request, service_id, error=err.code)
    else:
        response = _to_app(request, result.service_id, grant=result.grant)
    if cookie and cookie in request.cookies:
        response.del_cookie(cookie, path=oauth.cookie_path, secure=oauth.cookie_secure,
                            httponly=True, samesite="Lax")
    return response


def _to_app(request: web.Request, service_id: str | None, **outcome: str) -> web.Response:
    """Redirect to the return URL's query, or to the console's fragment (never sent to a server)."""
    params = ({"service": service_id} if service_id else {}) | outcome
    return_url = request.app[keys.SETTINGS].oauth_return_url
    if return_url:
        return _back_to_app(return_url, **params)
    console = request.app[keys.SETTINGS].public_url.rstrip("/") + "/"
    return web.Response(status=302, headers={
        **NO_TRACE, "Location": console + "#" + urlencode(params)})


@routes.post("/api/services/{id}/grant")
async def grant(request: web.Request) -> web.Response:
    """Store a finished sign-in for the bearer's user (the one who started it); the entry."""
    user, service_id = user_id(request), request.match_info["id"]
    body = await read_json(request, GrantRequest)
    oauth = request.app[keys.OAUTH]
    await oauth.redeem(user, service_id, body.grant)
    status = (await oauth.status(user))[service_id]
    service = request.app[keys.CATALOG].services[service_id]
    return web.json_response(_entry(service, status))
