"""The client the official MCP conformance suite starts: voice-mcp itself, driven over its API.

    python -m tests.conformance.client <scenario server URL>

The suite sets MCP_CONFORMANCE_SCENARIO (and MCP_CONFORMANCE_CONTEXT). This program starts the
real app (a private redis-server, the fake OpenAI-compatible server of tests/fakes) with one
catalog service pointing at the scenario's server, then plays the user: connects the service
over the OAuth browser leg when it uses OAuth (start link, the authorization server's redirect,
the callback, the grant step), sends a command whose scripted LLM calls the scenario's tools,
approves held actions, and connects again when the service asks for more access. Nothing here
speaks MCP or OAuth to the scenario's servers: the project's own code does (docs/oauth.md).
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import sys
import tempfile
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from aiohttp import web
from cryptography.fernet import Fernet

from tests.conformance.browser import Browser
from tests.conformance.llm import call_every_tool
from tests.fakes.openai_server import OpenAIServer
from tests.redis_server import PersistentRedis
from voice_mcp.services.auth import issue_dev_token
from voice_mcp.services.catalog import Catalog, ServiceConfig
from voice_mcp.services.store import free_port
from voice_mcp.settings import Settings
from voice_mcp.web.app import create_app

SERVICE_ID = "conformance"
USER = "conformance-user"
ROUNDS = 3  # connect + command rounds: a step-up or a migration needs a second one
CLIENT_ID_ENV = "CONFORMANCE_CLIENT_ID"
CLIENT_SECRET_ENV = "CONFORMANCE_CLIENT_SECRET"
JWT_SECRET = "conformance-" + "x" * 32


def log(message: str) -> None:
    """The suite keeps the client's stderr with the scenario's results."""
    print(f"[voice-mcp conformance] {message}", file=sys.stderr, flush=True)


async def pinned_issuer(url: str) -> str | None:
    """What an operator reads in the provider's documentation: its authorization server."""
    parts = urlsplit(url)
    well_known = f"{parts.scheme}://{parts.netloc}/.well-known/oauth-protected-resource"
    async with aiohttp.ClientSession() as http:
        for candidate in (well_known + parts.path, well_known):
            async with http.get(candidate) as resp:
                if resp.status == 200:
                    servers = (await resp.json()).get("authorization_servers") or []
                    return str(servers[0]) if servers else None
    return None


async def service_for(url: str, scenario: str, context: dict[str, Any]) -> ServiceConfig:
    """The catalog entry an operator would write for this scenario's server."""
    fields: dict[str, Any] = {"id": SERVICE_ID, "title": "Conformance", "url": url,
                              "transport": "streamable-http"}
    if scenario.startswith("auth/"):
        fields["auth"] = "oauth"
    if "client_id" in context:  # pre-registered credentials
        os.environ[CLIENT_ID_ENV] = context["client_id"]
        fields["client_id_env"] = CLIENT_ID_ENV
        if context.get("client_secret"):
            os.environ[CLIENT_SECRET_ENV] = context["client_secret"]
            fields["client_secret_env"] = CLIENT_SECRET_ENV
            fields["issuer"] = await pinned_issuer(url)
    return ServiceConfig(**fields)


@asynccontextmanager
async def running_app(service: ServiceConfig, llm: OpenAIServer) -> AsyncIterator[Settings]:
    """The real app on a free port with its own redis-server; its settings."""
    workdir = tempfile.mkdtemp(prefix="voice-mcp-conformance-")
    redis = PersistentRedis(workdir=Path(workdir))
    await redis.start()
    port = free_port()
    settings = Settings(
        _env_file=None, redis_url=redis.url, jwt_secret=JWT_SECRET,  # type: ignore[arg-type]
        token_key=Fernet.generate_key().decode(), public_url=f"http://127.0.0.1:{port}",
        openai_api_key="sk-conformance", llm_base_url=llm.base_url, llm_model="gpt-5-mini",
        llm_max_retries=0, local_intents="off", discovery_timeout_s=10,
        request_timeout_s=25)
    runner = web.AppRunner(create_app(settings, catalog=Catalog(services={service.id: service})),
                           access_log=None)
    try:
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        yield settings
    finally:
        await runner.cleanup()
        await redis.stop()
        shutil.rmtree(workdir, ignore_errors=True)


async def run(url: str, scenario: str, context: dict[str, Any]) -> None:
    """Connect (when OAuth), command, approve; again while the service asks to re-authorize."""
    service = await service_for(url, scenario, context)
    async with AsyncExitStack() as stack:
        llm = await stack.enter_async_context(OpenAIServer())
        llm.responder = call_every_tool(SERVICE_ID, context.get("toolCalls"))
        settings = await stack.enter_async_context(running_app(service, llm))
        browser = await stack.enter_async_context(
            Browser(settings.public_url, issue_dev_token(settings, USER, 600)))
        for attempt in range(1, ROUNDS + 1):
            entry = await browser.service(SERVICE_ID)
            if entry["auth"] == "oauth" and (not entry["connected"] or entry["needsReauth"]):
                log(f"round {attempt}: connecting (needsReauth={entry['needsReauth']})")
                await browser.connect(SERVICE_ID)
            done = await browser.command("Use every tool of the conformance service.")
            log(f"round {attempt}: command {done.get('status')}: {done.get('response')!r}")
            entry = await browser.service(SERVICE_ID)
            if entry["auth"] != "oauth" or (entry["connected"] and not entry["needsReauth"]):
                return
        log("gave up: the service still asks to be connected")


def main() -> None:
    if len(sys.argv) < 2:
        sys.exit("usage: python -m tests.conformance.client <server URL> (run by the suite)")
    scenario = os.environ.get("MCP_CONFORMANCE_SCENARIO", "")
    context = json.loads(os.environ.get("MCP_CONFORMANCE_CONTEXT") or "{}")
    log(f"scenario {scenario} at {sys.argv[-1]}")
    asyncio.run(run(sys.argv[-1], scenario, context))


if __name__ == "__main__":
    main()

