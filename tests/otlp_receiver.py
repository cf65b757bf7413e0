"""An OTLP/HTTP trace receiver in the test's loop: decodes what an exporter sends, by name."""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.trace.v1.trace_pb2 import Span


def value_of(any_value: Any) -> Any:
    """An OTLP AnyValue as Python (the scalar kinds our spans use)."""
    kind = any_value.WhichOneof("value")
    return getattr(any_value, kind) if kind else None


class OtlpReceiver:
    """`POST /v1/traces` (protobuf); `.spans` with their resource attributes beside them."""

    def __init__(self) -> None:
        self.spans: list[tuple[dict[str, Any], Span]] = []
        self.content_types: set[str] = set()
        self._arrived = asyncio.Condition()
        self._runner: web.AppRunner | None = None
        self.url = ""

    async def start(self) -> OtlpReceiver:
        app = web.Application()
        app.router.add_post("/v1/traces", self._export)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.url = f"http://127.0.0.1:{self._runner.addresses[0][1]}"
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _export(self, request: web.Request) -> web.Response:
        self.content_types.add(request.content_type)
        batch = ExportTraceServiceRequest.FromString(await request.read())
        async with self._arrived:
            for resource_spans in batch.resource_spans:
                resource = {a.key: value_of(a.value)
                            for a in resource_spans.resource.attributes}
                for scope_spans in resource_spans.scope_spans:
                    self.spans.extend((resource, span) for span in scope_spans.spans)
            self._arrived.notify_all()
        return web.Response(body=ExportTraceServiceResponse().SerializeToString(),
                            content_type="application/x-protobuf")

    async def wait_for(self, name: str) -> Span:
        """The first span so named, once it arrived."""
        async with self._arrived:
            await self._arrived.wait_for(lambda: any(s.name == name for _, s in self.spans))
        return next(s for _, s in self.spans if s.name == name)


def attributes(span: Span) -> dict[str, Any]:
    return {a.key: value_of(a.value) for a in span.attributes}
