"""Readiness waits for the offline speech recogniser's background load (docs/operations.md,
"Readiness"), so the first spoken command after `/readyz` says 200 finds it built; a load
that fails, or runs past its bound, never keeps the instance unready."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

import pytest

from voice_mcp.services.catalog import Catalog
from voice_mcp.services.stt import local
from voice_mcp.services.stt.warmup import WarmUp
from voice_mcp.web.app import create_app

LOADED = "offline speech recogniser ready"


async def _until_ready(client: Any, seen: list[dict[str, Any]]) -> dict[str, Any]:
    """Poll /readyz until 200; every 503 body is kept in `seen`."""
    async with asyncio.timeout(120):  # a loaded 2-core machine took 7 s to build it
        while True:
            resp = await client.get("/readyz")
            body: dict[str, Any] = await resp.json()
            if resp.status == 200:
                return body
            seen.append(body)
            await asyncio.sleep(0.05)


async def test_readiness_waits_until_the_offline_recogniser_is_built(
        aiohttp_client, make_settings, caplog) -> None:
    caplog.set_level(logging.INFO, logger="voice_mcp.services.stt.local")
    client = await aiohttp_client(create_app(make_settings(stt="local"), catalog=Catalog()))
    seen: list[dict[str, Any]] = []
    body = await _until_ready(client, seen)
    assert body == {"status": "ready"}
    assert seen, "the first probe came before the build (about a second) had finished"
    assert seen[0] == {"status": "starting", "error": {
        "code": "speech_loading", "message": "loading the speech recogniser"}}
    assert any(LOADED in r.getMessage() for r in caplog.records), "ready before it was built"


async def test_a_failed_load_leaves_the_instance_ready_and_says_so(
        aiohttp_client, make_settings, monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setattr(local, "model_dir", lambda: tmp_path / "no-model")
    client = await aiohttp_client(create_app(make_settings(stt="local"), catalog=Catalog()))
    body = await _until_ready(client, [])
    assert body == {"status": "ready", "speech": "failed"}


@pytest.mark.parametrize("stt", ["openai", "off"])
async def test_without_offline_speech_nothing_is_loaded(aiohttp_client, make_settings,
                                                        stt: str) -> None:
    settings = make_settings(stt=stt, stt_base_url="http://127.0.0.1:9/v1")
    client = await aiohttp_client(create_app(settings, catalog=Catalog()))
    seen: list[dict[str, Any]] = []
    assert await _until_ready(client, seen) == {"status": "ready"}
    assert seen == []


def test_a_load_past_its_bound_no_longer_holds_readiness() -> None:
    now = [100.0]
    warm = WarmUp(limit_s=60, clock=lambda: now[0])
    assert warm.holds_readiness
    now[0] += 59.9
    assert warm.holds_readiness
    now[0] += 0.2
    assert not warm.holds_readiness and warm.state == "loading"
    warm.finished(failed=False)
    assert warm.state == "ready" and not warm.holds_readiness
