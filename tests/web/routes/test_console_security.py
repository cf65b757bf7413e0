"""The console and metrics are locked down (issue 10.9): strict headers, no inline code, the
token in sessionStorage, /metrics behind a token or for this machine only."""

from __future__ import annotations

import re

import pytest

from voice_mcp.services.catalog import Catalog
from voice_mcp.web.app import create_app

METRICS_TOKEN = "metrics-token-" + "m" * 32


@pytest.fixture
async def client(aiohttp_client, make_settings):  # type: ignore[no-untyped-def]
    return await aiohttp_client(create_app(make_settings(), catalog=Catalog()))


def _directives(policy: str) -> dict[str, str]:
    parts = (p.strip().split(" ", 1) for p in policy.split(";") if p.strip())
    return {p[0]: p[1] if len(p) > 1 else "" for p in parts}


@pytest.mark.parametrize("path", ["/", "/static/console.js", "/static/console.css"])
async def test_console_files_carry_strict_security_headers(client, path: str) -> None:
    resp = await client.get(path)
    assert resp.status == 200
    csp = _directives(resp.headers["Content-Security-Policy"])
    assert csp["default-src"] == "'self'" and csp["script-src"] == "'self'"
    assert csp["style-src"] == "'self'" and csp["connect-src"] == "'self'"
    assert csp["frame-ancestors"] == "'none'" and csp["media-src"] == "'self' blob:"
    assert "base-uri" in csp and "form-action" in csp
    assert "unsafe-inline" not in resp.headers["Content-Security-Policy"]
    assert "unsafe-eval" not in resp.headers["Content-Security-Policy"]
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    assert resp.headers["Referrer-Policy"] == "no-referrer"
    assert resp.headers["X-Frame-Options"] == "DENY"


async def test_the_page_has_no_inline_code_and_keeps_the_token_per_tab(client) -> None:
    html = await (await client.get("/")).text()
    scripts = re.findall(r"<script\b([^>]*)>(.*?)</script>", html, re.S)
    assert scripts and all("src=" in attrs and not body.strip() for attrs, body in scripts)
    assert "<style" not in html and not re.search(r"\sstyle=", html)
    assert not re.search(r"\son[a-z]+=", html)  # no inline event handlers
    script = await client.get("/static/console.js")
    assert script.content_type == "text/javascript"
    code = await script.text()
    assert "sessionStorage" in code and "localStorage" not in code


@pytest.mark.parametrize("path", ["/static/nope.js", "/static/..%2Fapp.py", "/static/index.html"])
async def test_only_the_console_files_are_served(client, path: str) -> None:
    assert (await client.get(path)).status == 404


async def test_metrics_without_a_token_setting_are_for_this_machine_only(client) -> None:
    assert (await client.get("/metrics")).status == 200  # the test client is on loopback
    for header in ("X-Forwarded-For", "Forwarded", "X-Real-IP"):
        resp = await client.get("/metrics", headers={header: "203.0.113.9"})
        assert resp.status == 403, header
        assert "VOICE_MCP_METRICS_TOKEN" in (await resp.json())["error"]["message"]


async def test_metrics_need_the_token_when_one_is_set(aiohttp_client, make_settings) -> None:
    client = await aiohttp_client(create_app(make_settings(metrics_token=METRICS_TOKEN),
                                             catalog=Catalog()))
    for headers in ({}, {"Authorization": "Bearer wrong"},
                    {"Authorization": f"Basic {METRICS_TOKEN}"}):
        resp = await client.get("/metrics", headers=headers)
        assert resp.status == 401, headers
        assert METRICS_TOKEN not in await resp.text()
    resp = await client.get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}",
                                                 "X-Forwarded-For": "203.0.113.9"})
    assert resp.status == 200 and "voice_mcp" in await resp.text()


def test_metrics_refuse_a_remote_client_without_the_setting() -> None:
    from voice_mcp.errors import AppError
    from voice_mcp.services.metrics_access import check_metrics_access

    check_metrics_access(None, "", "::1", proxied=False)
    for remote in ("203.0.113.9", "10.0.0.2", None, "not-an-ip"):
        with pytest.raises(AppError) as caught:
            check_metrics_access(None, "", remote, proxied=False)
        assert caught.value.status == 403
