"""Open the message streams to an MCP server: stdio, Streamable HTTP or legacy SSE."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from types import TracebackType

import anyio
import httpx2
from mcp.client.sse import sse_client
from mcp.client.stdio import StdioServerParameters, stdio_client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client
from mcp.shared._stream_protocols import ReadStream, WriteStream
from mcp.shared.message import SessionMessage

from voice_mcp.services.catalog import ServiceConfig

Streams = tuple[ReadStream[SessionMessage | Exception], WriteStream[SessionMessage]]

# A stdio server gets only what a process needs to run (where programs are, who and where
# the user is, language, time zone, terminal) plus its own catalog `env` table: never our
# secrets, another service's token, a cloud key or a proxy password. PYTHONPATH is not passed:
# "python" servers run on this interpreter, whose venv already holds the installed packages.
INHERITED_ENV = frozenset({
    "PATH", "HOME", "USER", "LOGNAME", "SHELL", "TERM", "LANG", "LANGUAGE", "TZ", "TMPDIR",
    "TEMP", "TMP", "XDG_RUNTIME_DIR", "SYSTEMROOT", "COMSPEC", "PATHEXT", "WINDIR",
})
INHERITED_ENV_PREFIXES = ("LC_",)
HTTP_TIMEOUT = httpx2.Timeout(30.0, read=300.0)  # read: streams stay open between events


def service_workdir(root: Path, service_id: str) -> Path:
    """The folder a stdio service starts in when the catalog names none: its own, private
    (0700), under `root`, so it does not start next to `.env` or any other secret file."""
    root.mkdir(mode=0o700, parents=True, exist_ok=True)
    folder = root / service_id
    folder.mkdir(mode=0o700, exist_ok=True)
    return folder


def stdio_parameters(service: ServiceConfig, workdirs: Path) -> StdioServerParameters:
    """The child process for a stdio service; "python" means this interpreter, venv included.

    It starts in the catalog's `cwd`, else in its own folder under `workdirs`
    (docs/security.md, "stdio servers").
    """
    assert service.command, "the catalog guarantees a command for stdio"
    command, *args = service.command
    if command in ("python", "python3"):
        command = sys.executable
    env = {k: v for k, v in os.environ.items()
           if k in INHERITED_ENV or k.startswith(INHERITED_ENV_PREFIXES)}
    env.update(service.env)
    cwd = service.cwd if service.cwd is not None else service_workdir(workdirs, service.id)
    return StdioServerParameters(command=command, args=args, env=env, cwd=cwd)


@contextlib.asynccontextmanager
async def open_streams(service: ServiceConfig, auth: httpx2.Auth | None, *,
                       workdirs: Path) -> AsyncIterator[Streams]:
    """Connect to the service and yield its (read, write) message streams."""
    if service.transport == "stdio":
        async with stdio_client(stdio_parameters(service, workdirs),
                                errlog=sys.stderr) as streams:
            yield streams
        return
    assert service.url, "the catalog guarantees a url for HTTP transports"
    if service.transport == "sse":
        async with sse_client(service.url, headers=dict(service.headers), auth=auth,
                              timeout=HTTP_TIMEOUT.connect or 30.0,
                              sse_read_timeout=HTTP_TIMEOUT.read or 300.0) as streams:
            yield streams
        return
    async with (
        create_mcp_http_client(headers=dict(service.headers), timeout=HTTP_TIMEOUT,
                               auth=auth) as http,
        streamable_http_client(service.url, http_client=http) as streams,
    ):
        yield streams


class WatchedReadStream:
    """A read stream that reports when the server side ends, so a dead session is noticed
    before the next request is sent into it (a stdio child that died, a dropped SSE stream)."""

    def __init__(self, inner: ReadStream[SessionMessage | Exception],
                 on_end: Callable[[], None]) -> None:
        self._inner = inner
        self._on_end = on_end

    @property
    def last_context(self) -> object:
        # The dispatcher reads the sender's contextvars from here when the transport has them.
        return getattr(self._inner, "last_context", None)

    async def receive(self) -> SessionMessage | Exception:
        try:
            return await self._inner.receive()
        except (anyio.EndOfStream, anyio.ClosedResourceError, anyio.BrokenResourceError):
            self._on_end()
            raise

    async def aclose(self) -> None:
        await self._inner.aclose()

    def __aiter__(self) -> WatchedReadStream:
        return self

    async def __anext__(self) -> SessionMessage | Exception:
        try:
            return await self.receive()
        except anyio.EndOfStream:
            raise StopAsyncIteration from None

    async def __aenter__(self) -> WatchedReadStream:
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> bool | None:
        await self.aclose()
        return None
