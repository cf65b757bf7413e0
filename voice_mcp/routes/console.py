"""The web console at `/` (its script and styles under `/static/`) and `/api/openapi.json`."""

from __future__ import annotations

from importlib import resources

from aiohttp import web

from voice_mcp.openapi import openapi_document

routes = web.RouteTableDef()


def _static(name: str) -> str:
    return resources.files("voice_mcp").joinpath(f"static/{name}").read_text("utf-8")


CONSOLE_HTML = _static("index.html")
# A fixed list, read once: no path from the request ever reaches the file system.
STATIC_FILES: dict[str, tuple[str, str]] = {
    "console.js": (_static("console.js"), "text/javascript"),
    "console.css": (_static("console.css"), "text/css"),
}


@routes.get("/")
async def console(_request: web.Request) -> web.Response:
    return web.Response(text=CONSOLE_HTML, content_type="text/html",
                        headers={"Cache-Control": "no-cache"})


@routes.get("/static/{name}")
async def static_file(request: web.Request) -> web.Response:
    found = STATIC_FILES.get(request.match_info["name"])
    if found is None:
        raise web.HTTPNotFound()
    text, content_type = found
    return web.Response(text=text, content_type=content_type,
                        headers={"Cache-Control": "no-cache"})


@routes.get("/api/openapi.json")
async def openapi(_request: web.Request) -> web.Response:
    return web.json_response(openapi_document())
