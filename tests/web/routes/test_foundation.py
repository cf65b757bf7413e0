"""The app's edges: health, readiness, metrics, JSON errors, request ids, auth."""

from __future__ import annotations

import asyncio
import json
import logging
import re

import pytest

from voice_mcp.services.catalog import Catalog
from voice_mcp.services.store import free_port
from voice_mcp.web.app import create_app


@pytest.fixture
async def client(aiohttp_client, make_settings):  # type: ignore[no-untyped-def]
    return await aiohttp_client(create_app(make_settings(), catalog=Catalog()))


async def test_healthz_readyz_and_request_id(client) -> None:
    resp = await client.get("/healthz")
    assert resp.status == 200 and await resp.json() == {"status": "ok"}
    assert len(resp.headers["X-Request-Id"]) == 16
    async with asyncio.timeout(120):  # 503 speech_loading while the recogniser loads
        while (resp := await client.get("/readyz", headers={"X-Request-Id": "abc-123"})
               ).status == 503:
            assert (await resp.json())["error"]["code"] == "speech_loading"
            await asyncio.sleep(0.05)
    assert resp.status == 200 and resp.headers["X-Request-Id"] == "abc-123"


async def test_readyz_503_when_redis_is_down(aiohttp_client, make_settings) -> None:
    settings = make_settings(redis_url=f"redis://127.0.0.1:{free_port()}/0")
    client = await aiohttp_client(create_app(settings, catalog=Catalog()))
    resp = await client.get("/readyz")
    body = await resp.json()
    assert resp.status == 503 and body["error"]["code"] == "redis_unavailable"
    assert "redis" in body["error"]["message"]


async def test_unknown_route_is_json_404(client) -> None:
    resp = await client.get("/nope")
    assert resp.status == 404
    assert (await resp.json())["error"]["code"] == "not_found"
    resp = await client.post("/healthz")
    assert resp.status == 405 and (await resp.json())["error"]["code"] == "method_not_allowed"


@pytest.mark.parametrize("header", [None, "Basic abc", "Bearer ", "Bearer not.a.jwt",
                                    "Bearer e30.e30."])
async def test_api_needs_a_valid_bearer_token(client, header: str | None) -> None:
    headers = {"Authorization": header} if header else {}
    resp = await client.get("/api/voice/capabilities", headers=headers)
    assert resp.status == 401
    body = await resp.json()
    assert set(body) == {"error"} and body["error"]["code"] in ("missing_token", "invalid_token")
    assert resp.headers["WWW-Authenticate"].startswith("Bearer")


async def test_expired_token_is_401(client, token_for) -> None:
    resp = await client.get("/api/services",
                            headers={"Authorization": f"Bearer {token_for('a', ttl_s=-3600)}"})
    assert resp.status == 401 and "expired" in (await resp.json())["error"]["message"]


async def test_metrics_count_requests_by_route(client) -> None:
    await client.get("/healthz")
    text = await (await client.get("/metrics")).text()
    assert 'voice_mcp_http_requests_total{method="GET",route="/healthz",status="200"} 1.0' in text
    assert "voice_mcp_http_request_duration_seconds_bucket" in text


async def test_logs_carry_request_id_and_never_the_token(client, token_for, caplog) -> None:
    from voice_mcp.logs import JsonFormatter, RequestIdFilter

    token = token_for("alice", ttl_s=-100)
    caplog.set_level(logging.INFO, logger="voice_mcp")
    caplog.handler.addFilter(RequestIdFilter())
    await client.get("/api/services?code=secret-code", headers={"Authorization": f"Bearer {token}",
                                                               "X-Request-Id": "req-42"})
    lines = [JsonFormatter().format(r) for r in caplog.records if r.name == "voice_mcp.http"]
    assert lines, "the request was logged"
    entry = json.loads(lines[-1])
    assert entry["request_id"] == "req-42" and entry["status"] == 401
    assert all(token not in line and "secret-code" not in line for line in lines)


async def test_api_answers_503_when_redis_is_down(aiohttp_client, make_settings, auth_for) -> None:
    settings = make_settings(redis_url=f"redis://127.0.0.1:{free_port()}/0",
                             openai_api_key="sk-test")
    client = await aiohttp_client(create_app(settings, catalog=Catalog()))
    for method, path, body in [("POST", "/api/voice/llm", {"query": "hi"}),
                               ("GET", "/api/voice/history", None)]:
        resp = await client.request(method, path, json=body, headers=auth_for())
        assert resp.status == 503, path
        assert (await resp.json())["error"]["code"] == "redis_unavailable"
        assert resp.headers["Retry-After"] == "5"


async def test_console_and_openapi(client) -> None:
    page = await client.get("/")
    assert page.status == 200 and page.content_type == "text/html"
    assert '<script type="module" src="/static/console.js">' in await page.text()
    assert "script-src 'self'" in page.headers["Content-Security-Policy"]
    script = await client.get("/static/console.js")
    assert script.status == 200 and script.content_type == "text/javascript"
    assert "/api/voice/llm/stream" in await script.text()
    for missing in ("/static/nope.js", "/static/..%2Fcli.py", "/static/", "/static/index.html"):
        assert (await client.get(missing)).status == 404, missing
    doc = await (await client.get("/api/openapi.json")).json()
    assert doc["openapi"].startswith("3.")
    for path in ("/healthz", "/readyz", "/api/voice/llm", "/api/voice/llm/stream",
                 "/api/voice/audio", "/api/voice/audio/stream", "/api/voice/confirm",
                 "/api/voice/capabilities", "/api/voice/examples", "/api/voice/history",
                 "/api/services", "/api/services/{id}/connect", "/api/services/{id}",
                 "/oauth/callback", "/metrics"):
        assert path in doc["paths"], path
    schemas = doc["components"]["schemas"]
    assert {"DonePayload", "CommandRequest", "ConfirmRequest", "Error"} <= set(schemas)
    assert "conversationId" in schemas["DonePayload"]["properties"]
    refs = set(re.findall(r'"#/components/schemas/([^"]+)"', json.dumps(doc)))
    assert refs and refs <= set(schemas), refs - set(schemas)
