"""How fast the client commands start (docs/performance.md): `python -m bench cli`.

`ask`: from spawning `python -m voice_mcp ask` to the first byte of its first request (the
`/healthz` check) reaching a tiny local server (port chosen by the OS), and to the first byte
of the command itself (`POST /api/voice/llm/stream`, sent once the check is answered);
`token`: from spawning to exit. Each run is a fresh process in an empty folder (no .env), so
imports dominate, as for a user.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

RUNS = 7
TIMEOUT_S = 30.0
SECRET = "bench-cli-startup-secret-0123456789abcdef"


def _env(folder: str) -> dict[str, str]:
    """The caller's environment without voice-mcp settings, the package importable."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("VOICE_MCP_") and k != "OPENAI_API_KEY"}
    root = str(Path(__file__).resolve().parent.parent)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [root, env.get("PYTHONPATH")]))
    env["HOME"] = folder  # no development secret from an earlier `serve`
    return env


HEALTHY = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"


async def first_byte_ms(folder: str) -> tuple[float, float]:
    """One `ask`: milliseconds from spawn to its first request byte, and to its command's."""
    loop = asyncio.get_running_loop()
    first: asyncio.Future[float] = loop.create_future()
    command: asyncio.Future[float] = loop.create_future()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if byte := await reader.read(1):
            now = time.perf_counter()
            if not first.done():
                first.set_result(now)
            if byte == b"G":  # GET /healthz: answer it, so the command follows
                await reader.readuntil(b"\r\n\r\n")
                writer.write(HEALTHY)
                await writer.drain()
            elif not command.done():
                command.set_result(now)
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    started = time.perf_counter()
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "voice_mcp", "ask", "--url", f"http://127.0.0.1:{port}",
        "--token", "bench", "what time is it", cwd=folder, env=_env(folder),
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)
    try:
        async with asyncio.timeout(TIMEOUT_S):
            return (await first - started) * 1000, (await command - started) * 1000
    finally:
        process.kill()
        await process.wait()
        server.close()
        await server.wait_closed()


async def token_ms(folder: str) -> float:
    """One `token`: milliseconds from spawn to exit."""
    env = _env(folder) | {"VOICE_MCP_JWT_SECRET": SECRET}
    started = time.perf_counter()
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "voice_mcp", "token", "--user", "bench", cwd=folder, env=env,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)
    async with asyncio.timeout(TIMEOUT_S):
        code = await process.wait()
    if code != 0:
        raise RuntimeError(f"voice-mcp token exited with {code}")
    return (time.perf_counter() - started) * 1000


async def measure(runs: int = RUNS) -> dict[str, list[float]]:
    """Fresh processes, one after the other (the first warms the file cache and is dropped)."""
    with tempfile.TemporaryDirectory() as folder:
        await first_byte_ms(folder)
        await token_ms(folder)
        ask = [await first_byte_ms(folder) for _ in range(runs)]
        token = [await token_ms(folder) for _ in range(runs)]
    return {"ask: start to first request byte": [a for a, _ in ask],
            "ask: start to the command's first byte": [c for _, c in ask],
            "token: start to exit": token}


def table(found: dict[str, list[float]]) -> str:
    """A Markdown table of the medians and the fastest run."""
    lines = ["# Client start-up (python -m bench cli)", "",
             "| command | median ms | fastest ms | runs |", "|---|---:|---:|---:|"]
    for name, values in found.items():
        lines.append(f"| {name} | {statistics.median(values):.0f} | {min(values):.0f} | "
                     f"{len(values)} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    print(table(asyncio.run(measure())))


if __name__ == "__main__":
    main()
