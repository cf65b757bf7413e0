"""Pieces of the OpenAPI description: shared parameters, bodies, error responses, and the
routes a browser or a monitor uses (health, metrics, the console, the OAuth pages)."""

from __future__ import annotations

from typing import Any

from voice_mcp.services.stt.audio_format import ACCEPTED_MIME_TYPES
from voice_mcp.web.schemas import CONVERSATION_ID

BEARER: list[dict[str, list[str]]] = [{"bearer": []}]
ERROR_SCHEMA = {"type": "object", "required": ["error"], "properties": {"error": {
    "type": "object", "required": ["code", "message"],
    "properties": {"code": {"type": "string"}, "message": {"type": "string"}}}}}
COMMAND_ID = {"name": "commandId", "in": "path", "required": True,
              "schema": {"type": "string", "pattern": "^[A-Za-z0-9_-]{22}$"}}
SERVICE_ID = {"name": "id", "in": "path", "required": True,
              "schema": {"type": "string", "pattern": "^[a-z0-9_-]+$"}}
AUDIO_TYPES = sorted(ACCEPTED_MIME_TYPES)
_RECORDING = {"type": "string", "format": "binary",
              "description": "wav, mp3, m4a/mp4, ogg/opus, webm or flac, recognised from its "
                             "bytes; anything else is 415, an empty one 400"}
AUDIO_BODY = {"required": True, "content": {
    "multipart/form-data": {
        "schema": {"type": "object", "required": ["audio"], "additionalProperties": False,
                   "properties": {"audio": _RECORDING, "conversationId": {
                       "type": "string", "pattern": CONVERSATION_ID}}},
        "encoding": {"audio": {"contentType": ", ".join(AUDIO_TYPES)}}},
    **{media: {"schema": _RECORDING} for media in AUDIO_TYPES}}}
_HTML = {"text/html": {"schema": {"type": "string"}}}
# One Server-Sent Event as a client parses it (docs/streaming.md); `data` is one JSON object.
SSE = {"text/event-stream": {"schema": {
    "type": "object", "required": ["event", "data"], "properties": {
        "event": {"enum": ["progress", "delta", "error", "done"]},
        "data": {"type": "string", "contentMediaType": "application/json"},
        "id": {"type": "string", "pattern": "^[0-9]+$"}, "retry": {"type": "integer"}}}}}


def errors(*codes: int) -> dict[str, Any]:
    """The JSON error body (docs/api.md, "Errors") under each status code."""
    return {str(c): {"description": "error", "content": {"application/json": {
        "schema": {"$ref": "#/components/schemas/Error"}}}} for c in sorted(set(codes))}


def json_body(model: str) -> dict[str, Any]:
    return {"required": True, "content": {"application/json": {
        "schema": {"$ref": f"#/components/schemas/{model}"}}}}


def ok_json(description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _plain(summary: str, content: dict[str, Any], **more: Any) -> dict[str, Any]:
    return {"get": {"summary": summary,
                    "responses": {"200": {"description": "ok", "content": content}, **more}}}


def _oauth_paths() -> dict[str, Any]:
    """The browser's two steps of connecting a service (docs/oauth.md); HTML, not JSON."""
    state = {"name": "state", "in": "query", "required": True,
             "schema": {"type": "string", "minLength": 1}}
    optional = [{"name": name, "in": "query", "required": False, "schema": {"type": "string"}}
                for name in ("code", "error", "iss")]
    page = {"description": "an HTML page saying what went wrong", "content": _HTML}
    return {
        "/oauth/start": {"get": {
            "summary": "Open a start link: sets the browser-binding cookie, 302 to the provider",
            "parameters": [state],
            "responses": {"302": {"description": "to the authorization server"},
                          **{str(c): page for c in (400, 404, 409, 410, 502, 503)}}}},
        "/oauth/callback": {"get": {
            "summary": "OAuth redirect target: a page, or a redirect back to the app",
            "parameters": [{**state, "required": False}, *optional],
            "responses": {"200": {"description": "connected", "content": _HTML},
                          "302": {"description": "back to VOICE_MCP_OAUTH_RETURN_URL"},
                          **{str(c): page for c in (400, 401, 403, 404, 409, 410, 502, 503)}}}},
    }


def browser_paths() -> dict[str, Any]:
    """Health, metrics, this description, the console and the OAuth pages (no bearer token)."""
    json_any = {"application/json": {"schema": {"type": "object"}}}
    static_name = {"name": "name", "in": "path", "required": True, "schema": {"type": "string"}}
    metrics = _plain("Prometheus metrics (the metrics token, or a local scraper)",
                     {"text/plain": {"schema": {"type": "string"}}}, **errors(401, 403))
    metrics["get"]["security"] = [{}, {"bearer": []}]
    static = _plain("A console file", {"*/*": {"schema": {"type": "string"}}}, **errors(404))
    static["get"]["parameters"] = [static_name]
    return {
        "/healthz": _plain("Liveness", json_any),
        "/readyz": _plain("Readiness (Redis answers)", json_any, **errors(503)),
        "/metrics": metrics,
        "/api/openapi.json": _plain("This description", json_any),
        "/": _plain("The web console", _HTML),
        "/static/{name}": static,
        **_oauth_paths(),
    }
