"""The web console at `/` and the OpenAPI document at `/api/openapi.json`."""

from __future__ import annotations

from importlib import resources

from aiohttp import web

from voice_mcp.openapi import openapi_document

routes = web.RouteTableDef()
CONSOLE_HTML = resources.files("voice_mcp").joinpath("static/index.html").read_text("utf-8")


@routes.get("/")
async def console(_request: web.Request) -> web.Response:
    return web.Response(text=CONSOLE_HTML, content_type="text/html",
                        headers={"Cache-Control": "no-cache"})


@routes.get("/api/openapi.json")
async def openapi(_request: web.Request) -> web.Response:
    return web.json_response(openapi_document())
