"""A redis-server a test can stop and start again on the same port, keeping its data."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
from pathlib import Path

import redis.asyncio as aioredis

from voice_mcp.services.store import free_port


class PersistentRedis:
    """A redis-server with an append-only file in a temp dir, restartable on the same port."""

    def __init__(self, workdir: Path, port: int | None = None) -> None:
        self.workdir = workdir
        self.port = port or free_port()
        self.proc: asyncio.subprocess.Process | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    async def start(self) -> None:
        binary = shutil.which("redis-server")
        assert binary is not None
        self.proc = await asyncio.create_subprocess_exec(
            binary, "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.workdir),
            "--appendonly", "yes", "--appendfsync", "always", "--save", "",
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)
        client = aioredis.Redis(port=self.port)
        try:
            async with asyncio.timeout(30):
                while True:
                    with contextlib.suppress(aioredis.ConnectionError, OSError):
                        if await client.ping():
                            return
                    await asyncio.sleep(0.05)
        finally:
            await client.aclose()

    async def stop(self) -> None:
        if self.proc is not None and self.proc.returncode is None:
            self.proc.terminate()
            await self.proc.wait()
