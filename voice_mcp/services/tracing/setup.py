"""Turn traces on from the standard `OTEL_*` variables, or leave the no-op tracer alone.

docs/operations.md, "Traces": with `OTEL_EXPORTER_OTLP_ENDPOINT` (or the traces-only
variant) set, spans go over OTLP/HTTP to that endpoint, batched off the event loop. With
nothing set the OpenTelemetry SDK is never imported and every helper returns at once.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from voice_mcp import __version__
from voice_mcp.services.tracing import spans
from voice_mcp.settings import ConfigError, Settings

log = logging.getLogger(__name__)

ENDPOINTS = ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
# Probes and scrapes would drown the commands; the OAuth start link and callback carry a
# one-time state and code in their query strings, which no span may hold.
DEFAULT_EXCLUDED_URLS = "/healthz,/readyz,/metrics,/oauth/"
_provider: Any = None  # the SDK's TracerProvider once configured (one per process)


def wanted(env: Mapping[str, str]) -> bool:
    """True when the environment asks for traces: an OTLP endpoint, not switched off."""
    if env.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    if env.get("OTEL_TRACES_EXPORTER", "").strip().lower() == "none":
        return False
    return any(env.get(name, "").strip() for name in ENDPOINTS)


def _dotenv_otel(path: Path = Path(".env")) -> None:
    """Take `OTEL_*` lines from `.env` too, as every other setting is (the process wins)."""
    if not path.is_file():
        return
    from dotenv import dotenv_values

    for name, value in dotenv_values(path).items():
        if name.startswith("OTEL_") and value and not os.environ.get(name):
            os.environ[name] = value


def configure(settings: Settings) -> bool:
    """Install the SDK's tracer provider once per process when asked; True while tracing."""
    spans.STATE.content = settings.trace_content
    if _provider is not None:
        return True
    _dotenv_otel()
    if not wanted(os.environ):
        return spans.STATE.enabled  # off, or a provider installed by the caller (tests)
    install_sdk()
    return True


def install_sdk(sampler: Any = None) -> None:
    """The SDK's provider with the OTLP/HTTP exporter, and the aiohttp instrumentations.

    `sampler`: None for the SDK's own choice (`OTEL_TRACES_SAMPLER`); benchmarks pass theirs.
    """
    global _provider
    try:
        from opentelemetry import trace
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.instrumentation.aiohttp_client import AioHttpClientInstrumentor
        from opentelemetry.instrumentation.aiohttp_server import AioHttpServerInstrumentor
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor
    except ImportError as err:
        raise ConfigError("OTEL_EXPORTER_OTLP_ENDPOINT is set but the tracing packages are"
                          " missing: pip install 'voice-mcp[otel]'") from err
    if os.environ.get("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf") != "http/protobuf":
        log.warning("traces go over OTLP/HTTP (protobuf) whatever OTEL_EXPORTER_OTLP_PROTOCOL says")
    if not (os.environ.get("OTEL_PYTHON_AIOHTTP_SERVER_EXCLUDED_URLS")
            or os.environ.get("OTEL_PYTHON_EXCLUDED_URLS")):
        os.environ["OTEL_PYTHON_AIOHTTP_SERVER_EXCLUDED_URLS"] = DEFAULT_EXCLUDED_URLS
    _provider = TracerProvider(resource=Resource.create(_resource_defaults()), sampler=sampler)
    _provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(_provider)
    # Server spans continue a caller's `traceparent`; client spans carry ours to the LLM.
    AioHttpServerInstrumentor().instrument()
    AioHttpClientInstrumentor().instrument()
    spans.STATE.enabled = True
    log.info("traces: exporting over OTLP/HTTP")


def _resource_defaults() -> dict[str, str]:
    """`service.name` voice-mcp unless OTEL_SERVICE_NAME / OTEL_RESOURCE_ATTRIBUTES name one."""
    defaults = {"service.version": __version__}
    named = os.environ.get("OTEL_SERVICE_NAME") or \
        "service.name=" in os.environ.get("OTEL_RESOURCE_ATTRIBUTES", "")
    if not named:
        defaults["service.name"] = "voice-mcp"
    return defaults


def flush(timeout_ms: int = 5000) -> None:
    """Send what is buffered (at shutdown: the last commands' spans must not be lost)."""
    if _provider is not None:
        _provider.force_flush(timeout_ms)


async def flushed(_app: object) -> None:
    """At app cleanup: flush off the event loop."""
    await asyncio.to_thread(flush)
