"""One warm MCP session, owned by one worker task that runs every request sent to it.

anyio cancel scopes demand that the task that enters an MCP session also exits it, so
callers never touch the session: they queue a job and wait for its future. The worker
opens the connection on the first job, keeps it open, runs jobs concurrently, and ends
when the connection dies, when it is retired or closed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

import anyio
import httpx2
import mcp.types as types
from mcp import Client
from mcp.client.session import ClientRequestContext, IncomingMessage
from mcp.shared.dispatcher import ProgressFnT
from mcp.shared.exceptions import MCPError
from mcp.types import INTERNAL_ERROR
from mcp.types.version import MODERN_PROTOCOL_VERSIONS

from voice_mcp import __version__
from voice_mcp.services import tracing
from voice_mcp.services.catalog import ServiceConfig
from voice_mcp.services.mcp.asking import Asker
from voice_mcp.services.mcp.auth import BearerAuth
from voice_mcp.services.mcp.bounds import MAX_PROGRESS_CHARS, MAX_PROGRESS_UPDATES, clip
from voice_mcp.services.mcp.failures import (
    TransportFailure,
    app_error_in,
    describe,
    is_connection_closed,
    is_session_gone,
)
from voice_mcp.services.mcp.transports import Streams, WatchedReadStream

log = logging.getLogger(__name__)

T = TypeVar("T")
ProgressFn = Callable[[float, float | None, str | None], Awaitable[None]]
Op = Callable[[Client, ProgressFnT | None], Awaitable[T]]  # runs in the worker
Mode = Literal["auto", "legacy"]
CLIENT_INFO = types.Implementation(name="voice-mcp", version=__version__)


@dataclass(eq=False)
class _Job:
    """One request waiting for, or running on, the session."""

    op: Op[Any]
    future: asyncio.Future[Any]
    progress: ProgressFn | None
    asker: Asker | None = None  # who answers the server's questions during this request
    updates: deque[tuple[float, float | None, str | None]] = field(default_factory=deque)
    signal: asyncio.Event = field(default_factory=asyncio.Event)
    scope: anyio.CancelScope | None = None
    started: bool = False
    abandoned: bool = False
    trace: tracing.Captured = field(default_factory=tracing.capture)  # the caller's context
    reported: int = 0  # progress updates taken (see bounds.MAX_PROGRESS_UPDATES)

    async def report(self, progress: float, total: float | None, message: str | None) -> None:
        """Queue a progress update; the caller's own task replays it, in order, while it waits."""
        if not self.future.done() and self.reported < MAX_PROGRESS_UPDATES:
            self.reported += 1
            shown = clip(message, MAX_PROGRESS_CHARS) if message is not None else None
            self.updates.append((progress, total, shown))
            self.signal.set()

    def abandon(self) -> None:
        """Give up on the result; a running request is cancelled (the SDK tells the server)."""
        self.abandoned = True
        if not self.future.done():
            self.future.cancel()
        if self.scope is not None:
            self.scope.cancel()


class McpSession:
    """A connection to one service for everyone (shared) or for one user (OAuth)."""

    def __init__(self, service: ServiceConfig, *, user_id: str | None,
                 streams: Callable[[], AbstractAsyncContextManager[Streams]],
                 auth: BearerAuth | None, connect_timeout_s: float,
                 on_handshake: Callable[[], None], on_tools_changed: Callable[[], None],
                 mode: Mode = "auto") -> None:
        self.service = service
        self.user_id = user_id
        self.last_used = time.monotonic()
        self._streams = streams
        self._auth = auth
        self._connect_timeout_s = connect_timeout_s
        self._on_handshake = on_handshake
        self._on_tools_changed = on_tools_changed
        self._mode = mode
        self._queue: deque[_Job] = deque()
        self._jobs: set[_Job] = set()
        self._wake = asyncio.Event()
        self._worker: asyncio.Task[None] | None = None
        self._scope: anyio.CancelScope | None = None
        self._ready = False  # the handshake went through
        self._dead = False  # the connection is gone: nothing more can be sent on it
        self._retiring = False  # still works, but new requests belong on a fresh session
        self._closing = False
        self.open_failure: str | None = None  # why it could not connect, if it could not
        self.finished = asyncio.Event()
        self.ready_callbacks: list[Callable[[McpSession], None]] = []
        self.finished_callbacks: list[Callable[[McpSession], None]] = []

    @property
    def usable(self) -> bool:
        """True while new requests may be queued here."""
        return not (self._dead or self._retiring or self._closing or self.finished.is_set())

    @property
    def busy(self) -> bool:
        return bool(self._jobs)

    async def run(self, op: Op[T], progress: ProgressFn | None = None,
                  asker: Asker | None = None) -> T:
        """Run `op` on the session's client in the worker and return its result.

        Raises TransportFailure when the connection fails, an AppError when the
        credentials do, and whatever `op` raises otherwise.
        """
        if not self.usable:
            raise TransportFailure("the session was closed", delivered=False,
                                   was_ready=not self._closing)
        job = _Job(op, asyncio.get_running_loop().create_future(), progress, asker)
        self._jobs.add(job)
        self._queue.append(job)
        self.last_used = time.monotonic()
        self._wake.set()
        if self._worker is None:
            self._worker = asyncio.create_task(self._work(), name=f"mcp:{self.service.id}")
        try:
            result: T = await self._wait(job)
            return result
        except asyncio.CancelledError:
            job.abandon()
            raise
        finally:
            self.last_used = time.monotonic()

    def retire(self) -> None:
        """Send no new requests here; the worker ends once the queued ones are done."""
        self._retiring = True
        self._wake.set()

    async def aclose(self) -> None:
        """Cancel what runs, close the connection (and stop a stdio child), wait for the end."""
        self._closing = True
        self._wake.set()
        if self._scope is not None:
            self._scope.cancel()
        if self._worker is not None:
            await asyncio.wait({self._worker})

    async def _wait(self, job: _Job) -> Any:
        if job.progress is None:
            return await job.future
        job.future.add_done_callback(lambda _: job.signal.set())
        while True:
            await job.signal.wait()
            job.signal.clear()
            while job.updates:
                update = job.updates.popleft()
                try:
                    await job.progress(*update)
                except Exception as err:  # a broken listener must not fail the call
                    log.warning("progress callback failed", extra={
                        "service": self.service.id, "error_type": type(err).__name__})
            if job.future.done():
                return job.future.result()

    async def _work(self) -> None:
        failure: BaseException | None = None
        timer = asyncio.get_running_loop().call_later(self._connect_timeout_s, self._connect_late)
        try:
            with anyio.CancelScope() as scope:
                self._scope = scope
                if self._closing:
                    scope.cancel()
                async with self._connect() as client:
                    timer.cancel()
                    self._ready = True
                    for callback in self.ready_callbacks:
                        callback(self)
                    await self._serve(client)
            if not self._ready and not self._closing:
                failure = TransportFailure(f"no answer within {self._connect_timeout_s:g}s",
                                           delivered=False)
        except Exception as exc:  # the connection failed; its waiting callers hear why
            failure = exc
            log.info("mcp session ended", extra={"service": self.service.id,
                                                  "reason": describe(exc)[0]})
        finally:
            timer.cancel()
            self._dead = True
            auth_error = None
            if failure is not None:
                recorded = self._auth.take_failure() if self._auth else None
                auth_error = app_error_in(failure) or recorded
                if auth_error is None and not self._ready:
                    self.open_failure = describe(failure)[0]
            self._fail_leftovers(failure, auth_error)
            self.finished.set()
            for callback in self.finished_callbacks:
                callback(self)

    def _connect_late(self) -> None:
        if not self._ready and self._scope is not None:
            self._scope.cancel()

    @contextlib.asynccontextmanager
    async def _connect(self) -> AsyncIterator[Client]:
        self._on_handshake()
        async with self._streams() as (read, write):
            watched = WatchedReadStream(read, self._connection_ended)
            async with Client(contextlib.nullcontext((watched, write)), mode=self._mode,
                              cache=None, message_handler=self._on_message,
                              elicitation_callback=self._on_elicit,
                              list_roots_callback=self._on_list_roots,
                              sampling_callback=self._on_sample if self.service.sampling
                              else None,
                              client_info=CLIENT_INFO) as client:
                yield client

    async def _serve(self, client: Client) -> None:
        async with anyio.create_task_group() as tg:
            listen_scope = anyio.CancelScope()
            tg.start_soon(self._listen, client, listen_scope)
            while (job := await self._next_job()) is not None:
                tg.start_soon(self._run_job, client, job)
            # Running jobs finish (or fail fast on a dead connection) before the session closes.
            listen_scope.cancel()

    async def _next_job(self) -> _Job | None:
        while True:
            if self._dead or self._closing:
                return None
            while self._queue:
                job = self._queue.popleft()
                if not job.abandoned:
                    return job
                self._jobs.discard(job)
            if self._retiring:
                return None
            self._wake.clear()
            await self._wake.wait()

    async def _run_job(self, client: Client, job: _Job) -> None:
        job.started = True
        try:
            with anyio.CancelScope() as scope:
                job.scope = scope
                if job.abandoned:
                    scope.cancel()
                try:
                    with tracing.attached(job.trace):
                        result = await job.op(client, job.report if job.progress else None)
                except Exception as exc:
                    if not job.future.done():
                        job.future.set_exception(self._classify(exc))
                else:
                    if not job.future.done():
                        job.future.set_result(result)
        finally:
            # An unsettled job was cut off by the session ending: `_work` tells its caller why.
            if job.future.done():
                self._jobs.discard(job)

    def _classify(self, exc: Exception) -> BaseException:
        """What the caller of a failed job hears; connection failures also end the session."""
        if isinstance(exc, MCPError):
            if is_session_gone(exc):
                self._connection_ended()
                return TransportFailure("the server no longer knows the session",
                                        delivered=False, was_ready=True)
            if is_connection_closed(exc):
                self._connection_ended()
                return TransportFailure("the server closed the connection", delivered=True,
                                        was_ready=True)
            if exc.error.code == INTERNAL_ERROR and self._auth is not None:
                return self._auth.take_failure() or exc
            return exc
        if isinstance(exc, httpx2.TransportError | OSError | anyio.BrokenResourceError
                      | anyio.ClosedResourceError):
            self._connection_ended()
            reason, delivered = describe(exc)
            return TransportFailure(reason, delivered=delivered, was_ready=True)
        return exc

    def _fail_leftovers(self, failure: BaseException | None,
                        auth_error: BaseException | None) -> None:
        if self._closing:
            reason, delivered = "the session was closed", True
        elif failure is not None:
            reason, delivered = describe(failure)
        else:
            reason, delivered = "the connection was lost", True
        for job in self._jobs:
            if not job.future.done():
                job.future.set_exception(auth_error or TransportFailure(
                    reason, delivered=delivered and job.started,
                    was_ready=self._ready and not self._closing))
        self._jobs.clear()
        self._queue.clear()

    def _connection_ended(self) -> None:
        if not self._dead:
            self._dead = True
            self._wake.set()

    async def _on_message(self, message: IncomingMessage) -> None:
        if isinstance(message, types.ToolListChangedNotification):
            self._on_tools_changed()
        elif isinstance(message, types.ElicitCompleteNotification):
            for job in list(self._jobs):
                if job.asker is not None:
                    job.asker.completed(message.params.elicitation_id)
        elif isinstance(message, Exception):
            log.debug("transport reported an error", extra={
                "service": self.service.id, "error_type": type(message).__name__})

    async def _on_elicit(self, context: ClientRequestContext,
                         params: types.ElicitRequestParams) -> types.ElicitResult:
        """A server's question goes to the user of the one request running that can ask.

        The SDK does not say which request a question belongs to; on a shared session with
        several such requests at once, asking the wrong user would be worse than declining.
        """
        asker = self._sole_asker()
        if asker is None:
            return types.ElicitResult(action="decline")
        return await asker.elicit(params)

    async def _on_sample(self, context: ClientRequestContext,
                         params: types.CreateMessageRequestParams
                         ) -> types.CreateMessageResult | types.ErrorData:
        """Sampling (offered only when the catalog entry says `sampling = true`)."""
        asker = self._sole_asker()
        if asker is None:
            return types.ErrorData(code=types.INVALID_REQUEST, message="Sampling refused.")
        return await asker.sample(params)

    def _sole_asker(self) -> Asker | None:
        askers = [job.asker for job in self._jobs
                  if job.asker is not None and job.started and not job.future.done()]
        if len(askers) != 1:
            log.info("request declined: no single call to ask for", extra={
                "service": self.service.id, "requests": len(askers)})
            return None
        return askers[0]

    async def _on_list_roots(self, context: ClientRequestContext) -> types.ListRootsResult:
        """No roots: voice-mcp shares no file system with its services (docs/api.md)."""
        return types.ListRootsResult(roots=[])

    async def _listen(self, client: Client, scope: anyio.CancelScope) -> None:
        """On 2026-era connections, subscribe to tool list changes (older ones just send them)."""
        with scope, tracing.attached(tracing.detached()):  # it belongs to no one command
            tools = client.server_capabilities.tools
            if client.protocol_version not in MODERN_PROTOCOL_VERSIONS or not (
                    tools and tools.list_changed):
                return
            try:
                async with client.listen(tools_list_changed=True) as subscription:
                    async for _event in subscription:
                        pass  # the message handler saw the same notification
            except Exception as err:  # a lost subscription is handled below like an ended one
                log.debug("tool list subscription ended", extra={
                    "service": self.service.id, "error_type": type(err).__name__})
            # From here on a change would go unseen: the next request opens a new session,
            # and a re-opened session refreshes the cached list.
            self.retire()
