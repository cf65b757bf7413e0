"""The OpenAPI description served at /api/openapi.json, built from the pydantic models."""

from __future__ import annotations

from functools import cache
from typing import Any

from pydantic.json_schema import models_json_schema

from voice_mcp import __version__
from voice_mcp.services.asking.question import AnswerBody
from voice_mcp.services.orchestrator.payload import DonePayload
from voice_mcp.web.schemas import CommandRequest, ConfirmRequest, GrantRequest, SpeechRequest

ERROR = {"$ref": "#/components/schemas/Error"}
BEARER: list[dict[str, list[str]]] = [{"bearer": []}]


def _json(ref: str) -> dict[str, Any]:
    return {"application/json": {"schema": {"$ref": f"#/components/schemas/{ref}"}}}


def _errors(*codes: int) -> dict[str, Any]:
    return {str(c): {"description": "error", "content": {"application/json": {"schema": ERROR}}}
            for c in codes}


def _command(summary: str, body: dict[str, Any], sse: bool) -> dict[str, Any]:
    ok = ({"description": "SSE: progress, delta (the answer as it is made), error and one "
                          "final done event",
           "content": {"text/event-stream": {"schema": {"type": "string"}}}} if sse
          else {"description": "the done payload", "content": _json("DonePayload")})
    return {"post": {"summary": summary, "security": BEARER, "requestBody": body,
                     "responses": {"200": ok, **_errors(400, 401, 413, 415, 429, 503)}}}


AUDIO_BODY = {"required": True, "content": {
    "multipart/form-data": {"schema": {"type": "object", "required": ["audio"], "properties": {
        "audio": {"type": "string", "format": "binary"}, "conversationId": {"type": "string"}}}},
    "audio/*": {"schema": {"type": "string", "format": "binary"}}}}


def _get(summary: str, *, secured: bool = True, schema: dict[str, Any] | None = None,
         content_type: str = "application/json") -> dict[str, Any]:
    op: dict[str, Any] = {"summary": summary, "responses": {"200": {
        "description": "ok", "content": {content_type: {"schema": schema or {"type": "object"}}}}}}
    if secured:
        op["security"] = BEARER
        op["responses"].update(_errors(401))
    return {"get": op}


def _oauth_paths() -> dict[str, Any]:
    """The browser's two steps of connecting a service (docs/oauth.md)."""
    return {
        "/oauth/start": {"get": {
            "summary": "Open a start link: sets the browser-binding cookie, 302 to the provider",
            "parameters": [{"name": "state", "in": "query", "required": True,
                            "schema": {"type": "string"}}],
            "responses": {"302": {"description": "to the authorization server"},
                          "400": {"description": "an HTML error page"}}}},
        "/oauth/callback": _get("OAuth redirect target", secured=False, content_type="text/html",
                                schema={"type": "string"}),
    }


def _command_paths() -> dict[str, Any]:
    """A command by id, on any instance: poll it, follow its events, cancel it (docs/resume.md)."""
    command_id = {"name": "commandId", "in": "path", "required": True,
                  "schema": {"type": "string", "pattern": "^[A-Za-z0-9_-]{22}$"}}
    last_id = [{"name": "Last-Event-ID", "in": "header", "schema": {"type": "string"}},
               {"name": "lastEventId", "in": "query", "schema": {"type": "string"}}]
    status = _get("A command's status and done payload")
    status["get"].update(parameters=[command_id])
    status["get"]["responses"].update(_errors(400, 404, 410))
    events = _get("A command's events after Last-Event-ID, then live ones until done",
                  content_type="text/event-stream", schema={"type": "string"})
    events["get"].update(parameters=[command_id, *last_id])
    events["get"]["responses"].update(_errors(400, 404, 410))
    return {
        "/api/voice/commands/{commandId}": status,
        "/api/voice/commands/{commandId}/events": events,
        "/api/voice/commands/{commandId}/cancel": {"post": {
            "summary": "Cancel a command wherever it runs", "security": BEARER,
            "parameters": [command_id],
            "responses": {"202": {"description": "cancelling"}, **_errors(400, 401, 404, 410)}}},
        "/api/voice/commands/{commandId}/input": {"post": {
            "summary": "Answer a service's question (input_required), from any instance",
            "security": BEARER, "parameters": [command_id],
            "requestBody": {"required": True, "content": _json("AnswerBody")},
            "responses": {"202": {"description": "taken"},
                          **_errors(400, 401, 404, 409, 410, 422)}}},
    }


def _schemas() -> dict[str, Any]:
    """The request, done-payload and error schemas, from the pydantic models."""
    _, defs = models_json_schema(
        [(CommandRequest, "validation"), (ConfirmRequest, "validation"),
         (GrantRequest, "validation"), (SpeechRequest, "validation"),
         (AnswerBody, "validation"),
         (DonePayload, "serialization")],
        by_alias=True, ref_template="#/components/schemas/{model}")
    schemas = dict(defs.get("$defs", {}))
    schemas["Error"] = {"type": "object", "required": ["error"], "properties": {"error": {
        "type": "object", "required": ["code", "message"],
        "properties": {"code": {"type": "string"}, "message": {"type": "string"}}}}}
    return schemas


@cache
def _service_paths() -> dict[str, Any]:
    """Connecting and disconnecting a catalog service."""
    return {
        "/api/services/{id}/connect": {"post": {
            "summary": "Start an OAuth connection", "security": BEARER,
            "parameters": [{"name": "id", "in": "path", "required": True,
                            "schema": {"type": "string"}}],
            "responses": {"200": {"description": "authorizationUrl", "content": {
                "application/json": {"schema": {"type": "object", "properties": {
                    "authorizationUrl": {"type": "string"}}}}}},
                **_errors(401, 404, 429)}}},
        "/api/services/{id}/grant": {"post": {
            "summary": "Store a finished OAuth sign-in for its user", "security": BEARER,
            "parameters": [{"name": "id", "in": "path", "required": True,
                            "schema": {"type": "string"}}],
            "requestBody": {"required": True, "content": _json("GrantRequest")},
            "responses": {"200": {"description": "the service entry, connected"},
                          **_errors(400, 401, 403, 404)}}},
        "/api/services/{id}": {"delete": {
            "summary": "Disconnect a service (revokes tokens)", "security": BEARER,
            "parameters": [{"name": "id", "in": "path", "required": True,
                            "schema": {"type": "string"}}],
            "responses": {"204": {"description": "disconnected"}, **_errors(401, 404)}}},
    }


def openapi_document() -> dict[str, Any]:
    """Describe every route of docs/api.md ("Endpoints")."""
    text_body = {"required": True, "content": _json("CommandRequest")}
    paths: dict[str, Any] = {
        "/healthz": _get("Liveness", secured=False),
        "/readyz": _get("Readiness (Redis answers)", secured=False),
        "/metrics": _get("Prometheus metrics", secured=False, content_type="text/plain"),
        "/api/voice/llm": _command("Run a text command", text_body, sse=False),
        "/api/voice/llm/stream": _command("Run a text command, streamed", text_body, sse=True),
        "/api/voice/audio": _command("Run a spoken command", AUDIO_BODY, sse=False),
        "/api/voice/audio/stream": _command("Run a spoken command, streamed", AUDIO_BODY,
                                            sse=True),
        "/api/voice/confirm": {"post": {
            "summary": "Approve or decline held actions", "security": BEARER,
            "requestBody": {"required": True, "content": _json("ConfirmRequest")},
            "responses": {"200": {"description": "done payload (SSE with Accept: "
                                                 "text/event-stream)",
                                  "content": _json("DonePayload")},
                          **_errors(400, 401, 404, 409, 410)}}},
        "/api/voice/speech": {"post": {
            "summary": "Speak a text: audio streamed as it is made", "security": BEARER,
            "requestBody": {"required": True, "content": _json("SpeechRequest")},
            "responses": {"200": {"description": "audio", "content": {
                media: {"schema": {"type": "string", "format": "binary"}}
                for media in ("audio/wav", "audio/mpeg", "audio/ogg")}},
                **_errors(400, 401, 415, 429, 502, 503)}}},
        "/api/voice/capabilities": _get("Services and tools with risk levels"),
        "/api/voice/examples": _get("Example commands"),
        "/api/voice/history": _get("Recent turns (?conversationId=)"),
        "/api/services": _get("Catalog services with connection state"),
        **_service_paths(),
        **_command_paths(),
        **_oauth_paths(),
    }
    return {"openapi": "3.1.0",
            "info": {"title": "voice-mcp", "version": __version__},
            "paths": paths,
            "components": {"schemas": _schemas(), "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}}}}
