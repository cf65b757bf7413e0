"""Connecting services: list, connect (OAuth), the OAuth callback page, disconnect."""

from __future__ import annotations

import html

from aiohttp import web
from yarl import URL

from voice_mcp.errors import AppError, NotFound, to_app_error
from voice_mcp.services.oauth import CALLBACK_PATH, START_PATH, BrowserCookie, OAuthService
from voice_mcp.services.oauth.errors import CallbackError
from voice_mcp.web import keys
from voice_mcp.web.middleware import user_id

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
        {"id": service.id, "title": service.title, "auth": service.auth,
         "transport": service.transport, "connected": statuses[service.id].connected,
         "needsReauth": statuses[service.id].needs_reauth}
        for service in catalog.services.values()]})


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
    """Finish a connection in the user's browser: a small page, or a redirect to the app.

    Every failure ends here as a page (or redirect) too: a browser has no use for JSON.
    The browser-binding cookie is cleared whatever the outcome: a state works once.
    """
    query, oauth = request.query, request.app[keys.OAUTH]
    state = query.get("state")
    cookie = oauth.cookie_name(state) if state else None
    try:
        result = await oauth.complete(
            query.get("code"), state, query.get("error"), iss=query.get("iss"),
            browser_secret=request.cookies.get(cookie) if cookie else None)
    except Exception as exc:
        response = _failure(request, to_app_error(exc, "oauth callback"))
    else:
        return_url = request.app[keys.SETTINGS].oauth_return_url
        response = (_back_to_app(return_url, status="connected", service=result.service_id)
                    if return_url else
                    _page(f"{result.service_title} connected",
                          f"voice-mcp can now use {result.service_title} for you.", ok=True))
    if cookie and cookie in request.cookies:
        response.del_cookie(cookie, path=oauth.cookie_path, secure=oauth.cookie_secure,
                            httponly=True, samesite="Lax")
    return response
