"""A real Redis Cluster for the `cluster` test tier: six `redis-server` nodes (three primaries,
three replicas) on free loopback ports, joined by `redis-cli --cluster create`."""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import redis

from voice_mcp.services.store import free_port

NODE_TIMEOUT_MS = 1000  # how long a silent primary takes to be judged failed (tests: short)
NODES = 6


class ClusterNode:
    """One cluster-enabled redis-server with its own directory and bus port."""

    def __init__(self, root: Path, tls: dict[str, str] | None = None) -> None:
        self.tls = tls  # PEM files "ca", "cert", "key": TLS only, between the nodes too
        self.port = free_port()
        self.bus_port = free_port()
        self.dir = Path(tempfile.mkdtemp(dir=root))
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        binary = shutil.which("redis-server") or "redis-server"
        listen = ["--port", str(self.port)] if self.tls is None else [
            "--port", "0", "--tls-port", str(self.port), "--tls-cluster", "yes",
            "--tls-replication", "yes", "--tls-cert-file", self.tls["cert"],
            "--tls-key-file", self.tls["key"], "--tls-ca-cert-file", self.tls["ca"],
            "--tls-auth-clients", "no"]
        self.process = subprocess.Popen(
            [binary, *listen, "--cluster-port", str(self.bus_port),
             "--bind", "127.0.0.1", "--cluster-enabled", "yes",
             "--cluster-config-file", "nodes.conf", "--cluster-node-timeout",
             str(NODE_TIMEOUT_MS), "--cluster-replica-validity-factor", "0",
             "--save", "", "--appendonly", "no", "--dir", str(self.dir),
             "--loglevel", "warning"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def start_answering(self, others: list[ClusterNode]) -> None:
        """Start, and again on other ports if another process took one meanwhile."""
        for _attempt in range(3):
            taken = {p for n in others if n is not self for p in (n.port, n.bus_port)}
            while self.port in taken or self.bus_port in taken or self.port == self.bus_port:
                self.port, self.bus_port = free_port(), free_port()
            self.start()
            wait_for(lambda: _answers(self) or not self.alive, 20, f"node {self.port} hangs")
            if self.alive:
                return
            self.port, self.bus_port = free_port(), free_port()
        raise AssertionError("a cluster node did not start")

    def client(self) -> redis.Redis:
        if self.tls is None:
            return redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=5)
        return redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=5, ssl=True,
                           ssl_ca_certs=self.tls["ca"])

    def info(self, section: str) -> dict[str, str]:
        with self.client() as client:
            raw = client.execute_command("CLUSTER INFO" if section == "cluster" else
                                         f"INFO {section}")
        text = raw.decode() if isinstance(raw, bytes) else str(raw)
        if isinstance(raw, dict):
            return {str(k): str(v) for k, v in raw.items()}
        return dict(line.split(":", 1) for line in text.splitlines() if ":" in line)

    def role(self) -> str:
        return self.info("replication")["role"]

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None


class RedisClusterNodes:
    """Six nodes; `create()` joins them, `url` names one node (as VOICE_MCP_REDIS_URL does)."""

    def __init__(self, count: int = NODES, replicas: int = 1,
                 tls: dict[str, str] | None = None) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="voice-mcp-redis-cluster-"))
        self.nodes = [ClusterNode(self.root, tls) for _ in range(count)]
        self.replicas = replicas
        self.tls = tls

    @property
    def url(self) -> str:
        if self.tls is None:
            return f"redis://127.0.0.1:{self.nodes[0].port}/0"
        return f"rediss://127.0.0.1:{self.nodes[0].port}/0?ssl_ca_certs={self.tls['ca']}"

    def start(self) -> RedisClusterNodes:
        """Start the nodes and join them; on failure nothing is left running."""
        try:
            for node in self.nodes:
                node.start_answering(self.nodes)
            cli = [shutil.which("redis-cli") or "redis-cli"]
            if self.tls is not None:
                cli += ["--tls", "--cacert", self.tls["ca"]]
            subprocess.run([*cli, "--cluster", "create",
                            *(f"127.0.0.1:{n.port}" for n in self.nodes),
                            "--cluster-replicas", str(self.replicas), "--cluster-yes"],
                           check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                           timeout=60)
            self.wait_healthy()
        except BaseException:
            self.stop()
            raise
        return self

    def wait_healthy(self, timeout: float = 30) -> None:
        """Until every live node says `cluster_state:ok` and every replica is in sync."""
        wait_for(self._healthy, timeout, "the cluster did not become healthy")

    def _healthy(self) -> bool:
        live = [n for n in self.nodes if n.alive]
        try:
            if any(n.info("cluster")["cluster_state"] != "ok" for n in live):
                return False
            replicas = [n.info("replication") for n in live]
        except redis.RedisError:
            return False
        return all(r.get("master_link_status", "up") == "up" for r in replicas)

    def primary_of(self, key: str) -> ClusterNode:
        """The node serving `key`'s slot now."""
        with self.nodes[0].client() as client:
            slot = int(client.execute_command("CLUSTER KEYSLOT", key))
        for node in self.nodes:
            if node.alive and node.role() == "master" and _serves(node, slot):
                return node
        raise AssertionError(f"no live primary serves slot {slot}")

    def replica_of(self, primary: ClusterNode) -> ClusterNode:
        """A live replica following `primary` (by its replication link)."""
        for node in self.nodes:
            if node.alive and node is not primary:
                info = node.info("replication")
                if info["role"] == "slave" and int(info["master_port"]) == primary.port:
                    return node
        raise AssertionError(f"no replica follows {primary.port}")

    def stop(self) -> None:
        for node in self.nodes:
            node.stop()
        shutil.rmtree(self.root, ignore_errors=True)


def _answers(node: ClusterNode) -> bool:
    with contextlib.suppress(redis.RedisError), node.client() as client:
        return bool(client.ping())
    return False


def _serves(node: ClusterNode, slot: int) -> bool:
    with node.client() as client:
        shards = client.execute_command("CLUSTER SLOTS")
    for start, end, primary, *_ in shards:
        if int(start) <= slot <= int(end):
            return int(primary[1]) == node.port
    return False


def wait_for(check: object, timeout: float, message: str) -> None:
    """Poll a condition (the cluster has no event to await from a test)."""
    deadline = time.monotonic() + timeout
    while not check():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError(message)
        time.sleep(0.05)
