"""The OpenAPI description served at /api/openapi.json (docs/api.md, "The API description").

Precise enough to generate a client and to fuzz the server from it (tests/test_api_fuzz.py):
request schemas carry the real constraints (non-blank strings, lengths from the settings,
id formats, the accepted audio types) and every operation lists each status it can answer.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any

from pydantic.json_schema import models_json_schema

from voice_mcp import __version__
from voice_mcp.services.asking.question import AnswerBody
from voice_mcp.services.orchestrator.payload import DonePayload
from voice_mcp.settings import Settings
from voice_mcp.web.openapi_parts import (
    AUDIO_BODY,
    AUDIO_TYPES,
    BEARER,
    COMMAND_ID,
    ERROR_SCHEMA,
    SERVICE_ID,
    SSE,
    browser_paths,
    errors,
    json_body,
    ok_json,
)
from voice_mcp.web.schemas import (
    CONVERSATION_ID,
    CommandRequest,
    ConfirmRequest,
    GrantRequest,
    SpeechRequest,
)

# Every JSON body: not JSON or not the schema (400), over the body cap (413).
BODY = (400, 413)
# Each command route: also the rate limit (429) and 503 (draining, Redis down, no LLM at all).
COMMAND = (*BODY, 401, 429, 503)


@dataclass(frozen=True)
class Limits:
    """The settings the description depends on."""

    max_query_chars: int
    tts_max_chars: int

    @classmethod
    def of(cls, settings: Settings) -> Limits:
        return cls(settings.max_query_chars, settings.tts_max_chars)


def _command(summary: str, body: dict[str, Any], sse: bool, *extra: int) -> dict[str, Any]:
    ok = ({"description": "SSE: progress, delta (the answer as it is made), error and one "
                          "final done event", "content": SSE} if sse
          else ok_json("the done payload", {"$ref": "#/components/schemas/DonePayload"}))
    return {"post": {"summary": summary, "security": BEARER, "requestBody": body,
                     "responses": {"200": ok, **errors(*COMMAND, *extra)}}}


def _get(summary: str, schema: dict[str, Any], *codes: int,
         parameters: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    op: dict[str, Any] = {"summary": summary, "security": BEARER,
                          "responses": {"200": ok_json("ok", schema), **errors(401, *codes)}}
    if parameters:
        op["parameters"] = parameters
    return {"get": op}


def _voice_paths() -> dict[str, Any]:
    text = json_body("CommandRequest")
    speech_ok = {"description": "audio, streamed as it is made", "content": {
        media: {"schema": {"type": "string", "format": "binary"}}
        for media in ("audio/wav", "audio/mpeg", "audio/ogg")}}
    history_param = [{"name": "conversationId", "in": "query", "required": False,
                      "schema": {"type": "string", "pattern": CONVERSATION_ID}}]
    return {
        "/api/voice/llm": _command("Run a text command", text, False),
        "/api/voice/llm/stream": _command("Run a text command, streamed", text, True),
        "/api/voice/audio": _command("Run a spoken command", AUDIO_BODY, False, 415),
        "/api/voice/audio/stream": _command("Run a spoken command, streamed", AUDIO_BODY,
                                            True, 415),
        "/api/voice/confirm": {"post": {
            "summary": "Approve or decline held actions", "security": BEARER,
            "requestBody": json_body("ConfirmRequest"),
            "responses": {"200": {"description": "the done payload (SSE with Accept: "
                                                 "text/event-stream)", "content": {
                "application/json": {"schema": {"$ref": "#/components/schemas/DonePayload"}},
                **SSE}},
                **errors(*BODY, 401, 404, 409, 410, 503)}}},
        "/api/voice/speech": {"post": {
            "summary": "Speak a text: audio streamed as it is made", "security": BEARER,
            "requestBody": json_body("SpeechRequest"),
            "responses": {"200": speech_ok, **errors(*BODY, 401, 415, 429, 502, 503)}}},
        "/api/voice/capabilities": _get("Services and tools with risk levels",
                                        {"type": "object", "required": ["services"]}, 503),
        "/api/voice/examples": _get("Example commands", {
            "type": "object", "required": ["examples"], "properties": {
                "examples": {"type": "array", "items": {"type": "string"}}}}, 503),
        "/api/voice/history": _get("Recent turns, or one conversation's",
                                   {"type": "object"}, 400, 503, parameters=history_param),
    }


def _service_paths() -> dict[str, Any]:
    service_id = [SERVICE_ID]
    return {
        "/api/services": _get("Catalog services with connection state",
                              {"type": "object", "required": ["services"]}, 503),
        "/api/services/{id}/connect": {"post": {
            "summary": "Start an OAuth connection: a start link for the user's browser",
            "security": BEARER, "parameters": service_id,
            "responses": {"200": ok_json("the start link", {
                "type": "object", "required": ["authorizationUrl"], "properties": {
                    "authorizationUrl": {"type": "string"}}}),
                **errors(400, 401, 404, 409, 429, 502, 503)}}},
        "/api/services/{id}/grant": {"post": {
            "summary": "Store a finished OAuth sign-in for the user who started it",
            "security": BEARER, "parameters": service_id,
            "requestBody": json_body("GrantRequest"),
            "responses": {"200": ok_json("the service entry, connected", {"type": "object"}),
                          **errors(*BODY, 401, 403, 404, 503)}}},
        "/api/services/{id}": {"delete": {
            "summary": "Disconnect a service (revokes tokens)", "security": BEARER,
            "parameters": service_id,
            "responses": {"204": {"description": "disconnected"},
                          **errors(400, 401, 404, 409, 503)}}},
    }


# An answer said aloud: the recording and the question it answers (docs/api.md).
ANSWER_RECORDING = {"multipart/form-data": {
    "schema": {"type": "object", "required": ["audio", "inputId"], "additionalProperties": False,
               "properties": {"audio": {"type": "string", "format": "binary"},
                              "inputId": {"type": "string", "minLength": 1}}},
    "encoding": {"audio": {"contentType": ", ".join(AUDIO_TYPES)}}}}


def _command_paths() -> dict[str, Any]:
    """A command by id, on any instance: poll it, follow its events, cancel it (docs/resume.md)."""
    last_id = {"type": "string", "pattern": "^[0-9]{0,10}$"}
    events = _get("A command's events after Last-Event-ID, then live ones until done",
                  {"type": "string"}, 400, 404, 410, 503, parameters=[
                      COMMAND_ID, {"name": "Last-Event-ID", "in": "header", "schema": last_id},
                      {"name": "lastEventId", "in": "query", "schema": last_id}])
    events["get"]["responses"]["200"] = {"description": "SSE", "content": SSE}
    return {
        "/api/voice/commands/{commandId}": _get(
            "A command's status and done payload",
            {"type": "object", "required": ["commandId", "status", "done"]},
            400, 404, 410, 503, parameters=[COMMAND_ID]),
        "/api/voice/commands/{commandId}/events": events,
        "/api/voice/commands/{commandId}/cancel": {"post": {
            "summary": "Cancel a command wherever it runs", "security": BEARER,
            "parameters": [COMMAND_ID],
            "responses": {"202": ok_json("cancelling", {"type": "object"}),
                          **errors(400, 401, 404, 410, 503)}}},
        "/api/voice/commands/{commandId}/input": {"post": {
            "summary": "Answer a service's question (input_required), from any instance",
            "security": BEARER, "parameters": [COMMAND_ID],
            "requestBody": {"required": True, "content": {
                **json_body("AnswerBody")["content"], **ANSWER_RECORDING}},
            "responses": {"202": ok_json("taken", {"type": "object"}),
                          **errors(*BODY, 401, 404, 409, 410, 415, 422, 429, 503)}}},
    }


def _schemas(limits: Limits) -> dict[str, Any]:
    """The request, done-payload and error schemas, from the pydantic models, with the limits
    that come from the settings."""
    _, defs = models_json_schema(
        [(CommandRequest, "validation"), (ConfirmRequest, "validation"),
         (SpeechRequest, "validation"), (GrantRequest, "validation"),
         (AnswerBody, "validation"),
         (DonePayload, "serialization")],
        by_alias=True, ref_template="#/components/schemas/{model}")
    schemas = dict(defs.get("$defs", {}))
    schemas["CommandRequest"]["properties"]["query"]["maxLength"] = limits.max_query_chars
    schemas["SpeechRequest"]["properties"]["text"]["maxLength"] = limits.tts_max_chars
    schemas["Error"] = ERROR_SCHEMA
    return schemas


@cache
def openapi_document(limits: Limits) -> dict[str, Any]:
    """Describe every route of docs/api.md ("Endpoints")."""
    return {"openapi": "3.1.0",
            "info": {"title": "voice-mcp", "version": __version__},
            "paths": {**browser_paths(), **_voice_paths(), **_command_paths(),
                      **_service_paths()},
            "components": {"schemas": _schemas(limits), "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}}}}
