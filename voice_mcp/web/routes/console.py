"""The web console at `/` (its files under `/static/`) and the OpenAPI document."""

from __future__ import annotations

from importlib import resources

from aiohttp import web

from voice_mcp.web import keys
from voice_mcp.web.openapi import Limits, openapi_document

routes = web.RouteTableDef()

# The security headers (a strict CSP among them) come from routes/security_headers.py.
_TYPES = {".html": "text/html", ".css": "text/css", ".js": "text/javascript",
          ".svg": "image/svg+xml"}


def _load_static() -> dict[str, tuple[bytes, str]]:
    """Every console file, read once: name -> (bytes, content type). No path from a request
    ever reaches the file system."""
    folder = resources.files("voice_mcp.web").joinpath("static")
    files: dict[str, tuple[bytes, str]] = {}
    for entry in folder.iterdir():
        suffix = "." + entry.name.rsplit(".", 1)[-1] if "." in entry.name else ""
        if entry.is_file() and suffix in _TYPES:
            files[entry.name] = (entry.read_bytes(), _TYPES[suffix])
    return files


STATIC = _load_static()


def _file(name: str) -> web.Response:
    found = STATIC.get(name)
    if found is None:
        raise web.HTTPNotFound()
    body, content_type = found
    return web.Response(body=body, content_type=content_type, charset="utf-8",
                        headers={"Cache-Control": "no-cache"})


@routes.get("/")
async def console(_request: web.Request) -> web.Response:
    return _file("index.html")


@routes.get("/static/{name}")
async def static_file(request: web.Request) -> web.Response:
    name = request.match_info["name"]
    if name == "index.html":  # the page lives at `/` only
        raise web.HTTPNotFound()
    return _file(name)


@routes.get("/api/openapi.json")
async def openapi(request: web.Request) -> web.Response:
    return web.json_response(openapi_document(Limits.of(request.app[keys.SETTINGS])))
