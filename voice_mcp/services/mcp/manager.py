"""McpManager: discover tools and call them across the catalog's MCP services."""

from __future__ import annotations

import asyncio
import logging
import tempfile
import time
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import mcp.types as types
from mcp import Client
from mcp.shared.dispatcher import ProgressFnT
from mcp.shared.exceptions import MCPError

from voice_mcp.errors import AppError
from voice_mcp.services import tracing
from voice_mcp.services.catalog import Catalog, ServiceConfig
from voice_mcp.services.mcp.asking import Asker, call_asking
from voice_mcp.services.mcp.auth import TokenProvider, auth_for
from voice_mcp.services.mcp.bounds import MAX_OUTPUT_CHARS, clip
from voice_mcp.services.mcp.cache import CacheKey, ToolCache
from voice_mcp.services.mcp.convert import error_text, result_text, tool_info
from voice_mcp.services.mcp.failures import TransportFailure, short
from voice_mcp.services.mcp.models import DiscoveryResult, ToolCallResult, ToolInfo
from voice_mcp.services.mcp.pool import SessionPool
from voice_mcp.services.mcp.session import McpSession, Mode, Op, ProgressFn
from voice_mcp.services.mcp.transports import open_streams
from voice_mcp.services.mcp.validation import ArgumentValidator, without_absent
from voice_mcp.services.sealing import RecordSigner
from voice_mcp.services.store import Redis

log = logging.getLogger(__name__)

T = TypeVar("T")
Work = Callable[[ServiceConfig], Awaitable["types.CallToolResult | str"]]
MAX_PAGES = 50  # a server whose cursor never ends cannot hang discovery


class McpManager:
    """The one door to MCP: warm sessions, cached tool lists, validated and bounded calls.

    `on_tools_changed(service_id, user_id)` hears each dropped tool list (a change notice
    from the server, or a re-opened session); user_id is None for shared services.

    Connection trouble never raises out of `discover` or `call_tool`: it becomes an
    `unavailable` entry or a failed ToolCallResult. Only a user's OAuth grant failing
    (`ReauthRequired`, `NotConnected`) or a misconfigured service raises, from
    `call_tool`, as an AppError: that service is out for this user, not just one call.
    """

    def __init__(self, catalog: Catalog, redis: Redis, *,
                 token_provider: TokenProvider | None = None, call_timeout_s: float = 30,
                 discovery_timeout_s: float = 10, cache_ttl_s: int = 3600,
                 connect_timeout_s: float | None = None, idle_timeout_s: float = 600,
                 reconnect_backoff_s: float = 5,
                 protocol_mode: Mode = "auto", stdio_workdirs: Path | None = None,
                 signer: RecordSigner | None = None,
                 on_tools_changed: Callable[[str, str | None], None] | None = None) -> None:
        self.initialize_count = 0  # MCP handshakes started (initialize or server/discover)
        self.list_tools_count = 0  # tools/list requests sent
        self._catalog = catalog
        self._token_provider = token_provider
        self.call_timeout_s = call_timeout_s
        self.discovery_timeout_s = discovery_timeout_s
        self._connect_timeout_s = connect_timeout_s or discovery_timeout_s
        self._mode: Mode = protocol_mode
        self._on_tools_changed = on_tools_changed
        self._cache = ToolCache(redis, cache_ttl_s, signer=signer)
        self._validator = ArgumentValidator()
        self._pool = SessionPool(self._new_session, on_reopen=self._invalidate_soon,
                                 idle_timeout_s=idle_timeout_s,
                                 reconnect_backoff_s=reconnect_backoff_s)
        self._listings: dict[CacheKey, asyncio.Task[list[ToolInfo]]] = {}
        self._background: set[asyncio.Task[None]] = set()
        # Where stdio servers without a catalog `cwd` start; a private temporary one if unset.
        self._scratch: tempfile.TemporaryDirectory[str] | None = None
        if stdio_workdirs is None:
            self._scratch = tempfile.TemporaryDirectory(prefix="voice-mcp-services-")
            stdio_workdirs = Path(self._scratch.name)
        self._workdirs = stdio_workdirs

    async def discover(self, user_id: str, service_ids: Sequence[str]) -> DiscoveryResult:
        """The tools of the given services, listed concurrently; slow or dead ones are noted."""
        ids = list(dict.fromkeys(service_ids))
        outcomes = await asyncio.gather(*(self._discover_one(user_id, sid) for sid in ids))
        result = DiscoveryResult()
        for service_id, outcome in zip(ids, outcomes, strict=True):
            if isinstance(outcome, str):
                result.unavailable[service_id] = outcome
            else:
                result.tools.extend(outcome)
        return result

    async def call(self, user_id: str, tool: ToolInfo, arguments: dict[str, Any], *,
                   progress: ProgressFn | None = None, timeout_s: float | None = None,
                   asker: Asker | None = None) -> ToolCallResult:
        """Call a tool already resolved and validated (from `discover`), once, in its budget.

        The server's questions go to `asker` (declined without one); its budget stops while
        the user is asked.
        """
        async def work(service: ServiceConfig) -> types.CallToolResult | str:
            return await self._invoke(service, user_id, tool, arguments, progress, asker)

        return await self._bounded(tool.service, tool.name, arguments, timeout_s, work, asker)

    async def call_tool(self, user_id: str, service_id: str, tool: str,
                        arguments: dict[str, Any], *, progress: ProgressFn | None = None,
                        timeout_s: float | None = None,
                        asker: Asker | None = None) -> ToolCallResult:
        """Call a tool known only by name: find it (listing if needed), validate, then call.

        For callers without a discovered ToolInfo, such as an approval whose tool is no
        longer in the current listing.
        """
        async def work(service: ServiceConfig) -> types.CallToolResult | str:
            info = await self._find_tool(user_id, service, tool)
            if info is None:
                return f"unknown tool '{tool}'"
            problem = self._validator.problem(info, arguments)
            if problem is not None:
                return problem
            return await self._invoke(service, user_id, info, arguments, progress, asker)

        return await self._bounded(service_id, tool, arguments, timeout_s, work, asker)

    async def _invoke(self, service: ServiceConfig, user_id: str, info: ToolInfo,
                      arguments: dict[str, Any], progress: ProgressFn | None,
                      asker: Asker | None) -> types.CallToolResult:
        repeatable = bool(info.hints.read_only or info.hints.idempotent)
        arguments = without_absent(info.input_schema, arguments)
        return await self._run(service, user_id, _call_op(info.name, arguments, asker),
                               progress=progress, repeatable=repeatable, asker=asker)

    async def _bounded(self, service_id: str, tool: str, arguments: dict[str, Any],
                       timeout_s: float | None, work: Work,
                       asker: Asker | None = None) -> ToolCallResult:
        """One tool call as one span of the command's trace (docs/operations.md, "Traces")."""
        service = self._catalog.get(service_id)
        with tracing.tool_call(service_id, tool, service.transport if service else None,
                               service.url if service else None, arguments) as span:
            result = await self._budgeted(service_id, tool, arguments, timeout_s, work, asker)
            span.tool_result(result)
        return result

    async def _budgeted(self, service_id: str, tool: str, arguments: dict[str, Any],
                        timeout_s: float | None, work: Work,
                        asker: Asker | None = None) -> ToolCallResult:
        """Run one call's `work` in its time budget; every failure becomes a failed result."""
        started = time.perf_counter()

        def outcome(**fields: Any) -> ToolCallResult:
            elapsed = round((time.perf_counter() - started) * 1000)
            shown = arguments if isinstance(arguments, dict) else {}  # an LLM may send anything
            return ToolCallResult(service=service_id, tool=tool, arguments=shown,
                                  duration_ms=elapsed, **fields)

        service = self._catalog.get(service_id)
        if service is None:
            return outcome(success=False, error=f"unknown service '{service_id}'")
        budget = timeout_s if timeout_s is not None else service.timeout_s or self.call_timeout_s
        try:
            async with asyncio.timeout(budget) as clock:
                if asker is not None:
                    asker.clocks.append(clock)
                result = await work(service)
        except TimeoutError:
            return outcome(success=False, error=f"timed out after {budget:g}s")
        except TransportFailure as failure:
            return outcome(success=False, error=f"service unavailable: {failure.reason}")
        except MCPError as err:
            return outcome(success=False, error=short(err.error.message))
        except AppError:
            raise
        except Exception as err:  # a failed call is data for the caller, never a crash
            log.warning("tool call failed", extra={"service": service_id, "tool": tool,
                                                   "error_type": type(err).__name__})
            return outcome(success=False, error=f"tool call failed ({type(err).__name__})")
        if isinstance(result, str):
            return outcome(success=False, error=result)
        if result.is_error:
            return outcome(success=False, error=error_text(result))
        return outcome(success=True, output=clip(result_text(result), MAX_OUTPUT_CHARS),
                       structured=result.structured_content)

    def validate_arguments(self, tool: ToolInfo, arguments: Any) -> str | None:
        """Why `arguments` do not fit the tool's inputSchema, or None when they do."""
        return self._validator.problem(tool, arguments)

    async def close_user_sessions(self, user_id: str, service_id: str) -> None:
        """Close one user's session to an OAuth service and forget their tool list."""
        service = self._catalog.get(service_id)
        if service is None or service.is_shared:
            return
        key = CacheKey(service_id, user_id)
        await self._pool.close_key(key)
        await self._cache.invalidate(key)

    def warm_up(self) -> None:
        """Start every shared stdio server in the background, so the first command finds it
        running (its tools listed afresh); nothing waits for it and a failure is only logged."""
        for service in self._catalog.services.values():
            if service.transport == "stdio" and service.is_shared:
                task = asyncio.create_task(self._warm(service), name=f"mcp:warm:{service.id}")
                self._background.add(task)
                task.add_done_callback(self._background.discard)

    async def _warm(self, service: ServiceConfig) -> None:
        try:
            async with asyncio.timeout(self.discovery_timeout_s):
                await self._tools("", service, refresh=True)
        except Exception as err:  # the first command will try again and report it
            log.warning("warm-up failed", extra={"service": service.id,
                                                 "error_type": type(err).__name__})

    async def close_idle_sessions(self) -> int:
        """Close per-user sessions idle past the idle timeout now (also done periodically)."""
        return await self._pool.reap_idle()

    async def close(self) -> None:
        """Close every session and stop every stdio child; the manager is unusable after."""
        for task in list(self._listings.values()):
            task.cancel()
        await self._pool.close()
        if self._background:
            await asyncio.gather(*self._background, return_exceptions=True)
        if self._scratch is not None:
            self._scratch.cleanup()

    @property
    def sessions(self) -> list[McpSession]:
        """The live sessions (for metrics and tests)."""
        return self._pool.sessions

    async def _discover_one(self, user_id: str, service_id: str) -> list[ToolInfo] | str:
        service = self._catalog.get(service_id)
        if service is None:
            return "unknown service"
        try:
            async with asyncio.timeout(self.discovery_timeout_s):
                return await self._tools(user_id, service)
        except TimeoutError:
            return f"timed out after {self.discovery_timeout_s:g}s"
        except AppError as err:
            return err.code
        except TransportFailure as failure:
            return failure.reason
        except MCPError as err:
            return short(f"listing tools failed: {err.error.message}")
        except Exception as err:  # one broken service must not sink the others
            log.warning("tool discovery failed", extra={"service": service_id,
                                                        "error_type": type(err).__name__})
            return f"unexpected error ({type(err).__name__})"

    async def _find_tool(self, user_id: str, service: ServiceConfig, name: str) -> ToolInfo | None:
        tools = await self._tools(user_id, service)
        found = next((t for t in tools if t.name == name), None)
        if found is None:
            # The server may have added it since the list was cached: ask the server once.
            tools = await self._tools(user_id, service, refresh=True)
            found = next((t for t in tools if t.name == name), None)
        return found

    async def _tools(self, user_id: str, service: ServiceConfig, *,
                     refresh: bool = False) -> list[ToolInfo]:
        """The service's tools from the cache, else listed once however many callers ask."""
        key = CacheKey.of(service, user_id)
        if not refresh:
            cached = await self._cache.get(key)
            if cached is not None:
                return cached
        task = self._listings.get(key)
        if task is None:
            task = asyncio.create_task(self._list(user_id, service, key),
                                       name=f"mcp:list:{service.id}")
            self._listings[key] = task
            task.add_done_callback(lambda done: self._listing_done(key, done))
        try:
            # Shielded: a caller that gives up must not cancel the listing others wait for.
            return await asyncio.shield(task)
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if task.cancelled() and current is not None and not current.cancelling():
                # close() ended the listing, not our caller: that is an answer, not a cancel.
                raise TransportFailure("the MCP client is shut down", delivered=False) from None
            raise

    def _listing_done(self, key: CacheKey, task: asyncio.Task[list[ToolInfo]]) -> None:
        if self._listings.get(key) is task:
            del self._listings[key]
        if not task.cancelled():
            task.exception()  # retrieved: the callers that waited have seen it

    async def _list(self, user_id: str, service: ServiceConfig, key: CacheKey) -> list[ToolInfo]:
        async with asyncio.timeout(self.discovery_timeout_s):
            generation, listed = await self._run(service, user_id, self._list_op(key),
                                                 repeatable=True)
        tools = [tool_info(service.id, t) for t in listed]
        await self._cache.put(key, tools, generation)
        return tools

    def _list_op(self, key: CacheKey) -> Op[tuple[int, list[types.Tool]]]:
        async def list_all(client: Client, _: ProgressFnT | None) -> tuple[int, list[types.Tool]]:
            # Taken once the session is open: a change notice after this voids the listing.
            generation = self._cache.generation(key)
            tools: list[types.Tool] = []
            cursor: str | None = None
            for _page in range(MAX_PAGES):
                self.list_tools_count += 1
                page = await client.list_tools(cursor=cursor)
                tools.extend(page.tools)
                cursor = page.next_cursor
                if not cursor:
                    break
            return generation, tools

        return list_all

    async def _run(self, service: ServiceConfig, user_id: str, op: Op[T], *,
                   progress: ProgressFn | None = None, repeatable: bool,
                   asker: Asker | None = None) -> T:
        """Run on the service's session; once more on a fresh one if a warm session broke."""
        for attempt in (1, 2):
            session = self._pool.session_for(service, user_id)
            try:
                return await session.run(op, progress, asker)
            except TransportFailure as failure:
                retry = failure.was_ready and (repeatable or not failure.delivered)
                if attempt == 2 or not retry:
                    raise
                log.info("mcp session broke; retrying on a new one",
                         extra={"service": service.id, "reason": failure.reason})
        raise AssertionError("unreachable")

    def _new_session(self, service: ServiceConfig, key: CacheKey) -> McpSession:
        auth = auth_for(service, key.user_id, self._token_provider)
        def streams() -> Any:
            return open_streams(service, auth, workdirs=self._workdirs)

        return McpSession(service, user_id=key.user_id, streams=streams, auth=auth,
                          connect_timeout_s=self._connect_timeout_s,
                          on_handshake=self._count_handshake,
                          on_tools_changed=lambda: self._invalidate_soon(key), mode=self._mode)

    def _count_handshake(self) -> None:
        self.initialize_count += 1

    def _invalidate_soon(self, key: CacheKey) -> None:
        """Drop a tool list from memory now and from Redis in the background (sync callers)."""
        self._cache.forget_local(key)
        task = asyncio.create_task(self._cache.invalidate(key), name="mcp:invalidate")
        self._background.add(task)
        task.add_done_callback(self._background.discard)
        if self._on_tools_changed is not None:
            self._on_tools_changed(key.service_id, key.user_id)


def _call_op(tool: str, arguments: dict[str, Any],
             asker: Asker | None) -> Op[types.CallToolResult]:
    async def call(client: Client, on_progress: ProgressFnT | None) -> types.CallToolResult:
        return await call_asking(client, tool, arguments, on_progress, asker)

    return call
