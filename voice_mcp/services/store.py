"""Redis: the one place all shared state lives, plus the embedded server used when none is set.

`Redis` is either client: one server, or a Redis Cluster (`VOICE_MCP_REDIS_CLUSTER`, see
docs/operations.md). Every key a script or transaction touches together shares a hash tag,
so the same code runs on both.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import shutil
import socket
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import redis.asyncio as aioredis
from redis import exceptions as rerr
from redis.asyncio.cluster import RedisCluster
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialWithJitterBackoff
from redis.commands.core import AsyncScript

from voice_mcp.settings import ConfigError

log = logging.getLogger(__name__)

Redis = aioredis.Redis | RedisCluster
# Retried by the client: failures after which running the same command again is safe because
# every script and transaction of the app is idempotent (a retried append skips what it wrote).
RETRY_ON: list[type[Exception]] = [rerr.ConnectionError, rerr.TimeoutError,
                                   rerr.ClusterDownError, rerr.TryAgainError]
RETRIES = 3

INSTALL_HINT = (
    "redis-server not found: install it (apt-get install redis-server) "
    "or set VOICE_MCP_REDIS_URL to a running Redis"
)


def free_port() -> int:
    """Ask the OS for a free loopback TCP port."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class EmbeddedRedis:
    """A private `redis-server` child on a loopback port, with no persistence.

    It demands a random password (docs/security.md, "Embedded Redis"): other accounts on the
    machine can reach a loopback port, and what Redis holds decides what runs. The password
    lives only in a 0600 config file in a 0700 folder and in this process's memory, never on
    a command line that `ps` shows.
    """

    process: asyncio.subprocess.Process
    port: int
    workdir: tempfile.TemporaryDirectory[str]
    password: str

    @property
    def url(self) -> str:
        return f"redis://:{self.password}@127.0.0.1:{self.port}/0"

    async def stop(self) -> None:
        """Terminate the child and wait for it, killing it if it lingers."""
        if self.process.returncode is None:
            self.process.terminate()
            try:
                await asyncio.wait_for(self.process.wait(), 5)
            except TimeoutError:
                self.process.kill()
                await self.process.wait()
        self.workdir.cleanup()


def _private_workdir(home: Path | None,
                    password: str) -> tuple[tempfile.TemporaryDirectory[str], Path]:
    """A 0700 folder (under `home` if given) with the config file that carries the password,
    readable by this account only."""
    if home is not None:
        home.mkdir(mode=0o700, parents=True, exist_ok=True)
    workdir = tempfile.TemporaryDirectory(prefix="voice-mcp-redis-", dir=home)
    path = Path(workdir.name) / "redis.conf"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as out:
        out.write(f"requirepass {password}\n")
    return workdir, path


async def start_embedded_redis(binary: str = "redis-server", *,
                               home: Path | None = None) -> EmbeddedRedis:
    """Start redis-server on a free port and wait until it answers PING.

    Its folder (config with the password, scratch files) is made under `home` (the state
    directory) when given, else in the system's temporary directory; either way 0700.
    """
    path = shutil.which(binary)
    if path is None:
        raise ConfigError(INSTALL_HINT)
    password = secrets.token_hex(32)
    workdir, config = _private_workdir(home, password)
    for _attempt in range(3):
        port = free_port()
        process = await asyncio.create_subprocess_exec(
            *_dies_with_us(), path, str(config), "--port", str(port), "--bind", "127.0.0.1",
            "--save", "",
            "--appendonly", "no", "--dir", workdir.name, "--protected-mode", "yes",
            "--loglevel", "warning",
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
            # Its own session: a Ctrl-C in the terminal reaches us, and we stop it in order.
            start_new_session=True,
        )
        server = EmbeddedRedis(process, port, workdir, password)
        if await _wait_ready(server):
            log.info("embedded redis started", extra={"port": port})
            return server
        if process.returncode is None:
            process.kill()
        await process.wait()
    workdir.cleanup()
    raise ConfigError("redis-server did not start; set VOICE_MCP_REDIS_URL to a running Redis")


def _dies_with_us() -> list[str]:
    """A prefix that makes the child get SIGTERM when this process dies, however it dies (a
    SIGKILL, a crash): util-linux's `setpriv --pdeathsig`, which execs the command, so no
    Python runs in the child. Without setpriv (not Linux), a stop in order still stops it."""
    setpriv = shutil.which("setpriv")
    return [setpriv, "--pdeathsig", "TERM", "--"] if setpriv else []


async def _wait_ready(server: EmbeddedRedis) -> bool:
    client = aioredis.Redis.from_url(server.url)
    try:
        for _ in range(100):
            if server.process.returncode is not None:
                return False
            with contextlib.suppress(aioredis.ConnectionError, OSError):
                if await client.ping():
                    return True
            await asyncio.sleep(0.05)
        return False
    finally:
        await client.aclose()


REPLICA_WAIT_MS = 200


async def replicated(client: Redis, script: AsyncScript, keys: list[str],
                     args: list[Any]) -> Any:
    """Run a script and, on a cluster, wait (briefly) until a replica of its node has the
    writes (`WAIT` on the same connection): a primary that dies right after a confirmation
    was stored or taken must not take that write with it. Answers the script's reply."""
    if not isinstance(client, RedisCluster):
        return await script(keys=keys, args=args)
    node = client.get_node_from_key(keys[0])
    async with client.pipeline(transaction=False) as pipe:
        source = script.script  # EVAL, not EVALSHA: a just-promoted node may lack the script
        pipe.eval(source if isinstance(source, str) else bytes(source).decode(), len(keys),
                  *keys, *args)
        pipe.execute_command("WAIT", 1, REPLICA_WAIT_MS, target_nodes=node)
        reply, acked = await pipe.execute(raise_on_error=False)
    if isinstance(reply, Exception):
        raise reply
    if isinstance(acked, Exception):
        # The write went where MOVED led, but WAIT went to the node the slot map named: after
        # a failover that node is a replica ("WAIT cannot be used with replica instances").
        # The write stands; the map is refreshed for the next one.
        log.warning("write not confirmed by a replica (%s); refreshing the slot map",
                    type(acked).__name__)
        with contextlib.suppress(rerr.RedisError):
            await client.nodes_manager.initialize()
    elif not int(acked):
        log.warning("write not confirmed by a replica within %d ms", REPLICA_WAIT_MS)
    return reply


def _retry() -> Retry:
    # A failover takes a few seconds: back off up to 1 s between the attempts.
    return Retry(ExponentialWithJitterBackoff(base=0.1, cap=1.0), RETRIES)


def make_pool(url: str, *, cluster: bool = False) -> Redis:
    """One client shared by the whole app: over one pool, or one pool per cluster node.

    The cluster client follows MOVED/ASK itself and retries connection failures with the
    same policy as the single-node client, refreshing its slot map in between.
    """
    if cluster:
        return RedisCluster.from_url(url, decode_responses=False, health_check_interval=30,
                                     socket_connect_timeout=5, max_connections=512,
                                     retry=_retry(), retry_on_error=list(RETRY_ON))
    return aioredis.Redis.from_url(url, decode_responses=False, health_check_interval=30,
                                   socket_connect_timeout=5, max_connections=512,
                                   retry=_retry(), retry_on_error=list(RETRY_ON))


@contextlib.asynccontextmanager
async def redis_for(url: str | None, *, cluster: bool = False, home: Path | None = None
                    ) -> AsyncIterator[tuple[Redis, EmbeddedRedis | None]]:
    """Open the configured Redis, or start an embedded one (its folder under `home`)."""
    if cluster and url is None:
        raise ConfigError("VOICE_MCP_REDIS_CLUSTER=true needs VOICE_MCP_REDIS_URL naming a node")
    embedded = await start_embedded_redis(home=home) if url is None else None
    client = make_pool(embedded.url if embedded else url, cluster=cluster)  # type: ignore[arg-type]
    try:
        yield client, embedded
    finally:
        await client.aclose()
        if embedded is not None:
            await embedded.stop()


async def ping(client: Redis) -> str | None:
    """None when Redis answers (on a cluster: a node answers and says the cluster's state is
    `ok`, i.e. every slot is served), else a short reason for /readyz."""
    try:
        return await asyncio.wait_for(_health(client), 2)
    except TimeoutError:
        return "redis did not answer within 2 s"
    except (rerr.RedisError, OSError) as err:
        return f"redis unavailable: {type(err).__name__}"


async def _health(client: Redis) -> str | None:
    await client.ping()
    if not isinstance(client, RedisCluster):
        return None
    info: Any = await client.cluster_info()
    state = info.get("cluster_state") if isinstance(info, dict) else None
    state = state.decode() if isinstance(state, bytes) else state
    return None if state == "ok" else f"redis cluster state: {state or 'unknown'}"

