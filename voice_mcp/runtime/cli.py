"""The `voice-mcp` command: serve, token and ask (docs/api.md, "Command line").

Each command imports what it needs when it runs: `ask` and `token` must start fast, so the
server's packages (aiohttp.web, mcp, openai, the orchestrator) are never loaded for them.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from aiohttp import web

    from voice_mcp.settings import Settings


def _serve(args: argparse.Namespace) -> int:
    import asyncio
    import functools

    from voice_mcp.logs import configure_logging
    from voice_mcp.runtime.serve import serve
    from voice_mcp.runtime.startup import bind_listen_socket, with_client_auth
    from voice_mcp.settings import load_settings
    from voice_mcp.web.app import create_app

    settings = load_settings()
    made_secret = not settings.client_auth_configured  # the development secret, made here
    settings = with_client_auth(settings)
    configure_logging(settings.log_level, settings.log_format)
    workers = settings.workers if args.workers is None else args.workers
    if workers < 1:
        from voice_mcp.settings import ConfigError

        raise ConfigError("--workers: must be at least 1")
    if workers > 1 and not args.worker:
        from voice_mcp.runtime.supervisor import supervise

        return asyncio.run(supervise(settings, workers))
    if args.worker:
        _die_with_parent()
    app = create_app(settings)
    # A busy port: one line, no trace. Workers share the port (SO_REUSEPORT).
    sock = bind_listen_socket(settings.host, settings.port, reuse_port=args.worker)
    app.on_startup.append(functools.partial(_started, made_secret=made_secret))
    asyncio.run(serve(app, settings, sock))
    return 0


def _die_with_parent() -> None:
    """A worker gets SIGTERM if its supervisor dies (SIGKILL) without forwarding one."""
    import contextlib
    import ctypes
    import signal

    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    if os.getppid() == 1:
        raise SystemExit(0)


async def _started(app: web.Application, *, made_secret: bool) -> None:
    """Freeze the start-up heap, start stdio servers in the background, and say we are up."""
    import gc
    import logging

    gc.collect()
    gc.freeze()
    from voice_mcp.runtime.startup import missing_parts, secret_file_warnings
    from voice_mcp.web import keys

    app[keys.MCP].warm_up()
    settings = app[keys.SETTINGS]
    log = logging.getLogger("voice_mcp")
    log.info("voice-mcp listening on http://%s:%s", settings.host, settings.port)
    missing = missing_parts(settings)
    if missing is not None:
        log.warning("%s", missing)
    for warning in secret_file_warnings(app[keys.CATALOG]):
        log.warning("%s", warning)
    link = console_link(settings) if made_secret else None
    if link is not None:
        # To the terminal only, never to the log: the link carries a (short-lived) token.
        print(f"voice-mcp console (signs this browser in for {DEV_LINK_TTL_S // 3600} h): {link}",
              file=sys.stderr, flush=True)


DEV_LINK_TTL_S = 12 * 3600
DEV_LINK_USER = "dev"


def console_link(settings: Settings) -> str | None:
    """`http://HOST:PORT/#token=...` for a development user, as Jupyter prints; only on a
    loopback address with a local JWT secret (nobody else can reach it, nothing else signs).

    `serve` asks only when it made the development secret itself: a production secret never
    gets a long-lived token printed into journald or docker logs (docs/security.md)."""
    from voice_mcp.runtime.startup import is_loopback

    if settings.jwt_secret is None or not is_loopback(settings.host):
        return None
    from voice_mcp.services.dev_tokens import issue_dev_token

    token = issue_dev_token(settings, DEV_LINK_USER, DEV_LINK_TTL_S)
    host = f"[{settings.host}]" if ":" in settings.host else settings.host
    return f"http://{host}:{settings.port}/#token={token}"


def _token(args: argparse.Namespace) -> int:
    from voice_mcp.client.config import read_client_config

    print(read_client_config().sign(args.user, args.ttl))
    return 0


def _ask(args: argparse.Namespace) -> int:
    from voice_mcp.client.ask import run_ask
    from voice_mcp.client.config import read_client_config

    config = read_client_config()

    def token() -> str:
        """The given token, else one signed here (only then is the signing library loaded)."""
        if args.token:
            return str(args.token)
        return config.sign(args.user, 600, "set VOICE_MCP_TOKEN (or --token), or "
                           "VOICE_MCP_JWT_SECRET to sign one")

    return run_ask(args, config, token)


def _init(args: argparse.Namespace) -> int:
    from pathlib import Path

    from voice_mcp.runtime.init import write_config

    for path in write_config(Path(args.dir)):
        print(f"wrote {path}")
    print("Run `voice-mcp serve` in that folder (it reads config/services.toml);"
          " copy config/.env.example to .env to set options.")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="voice-mcp", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="run the HTTP server")
    serve.add_argument("--workers", type=int, default=None,
                       help="server processes sharing the port (default: $VOICE_MCP_WORKERS, 1)")
    serve.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    serve.set_defaults(func=_serve)

    token = commands.add_parser("token", help="print a development bearer token")
    token.add_argument("--user", required=True, help="the user id (the `sub` claim)")
    token.add_argument("--ttl", type=int, default=3600, help="lifetime in seconds")
    token.set_defaults(func=_token)

    ask = commands.add_parser("ask", help="send a command and watch it run")
    ask.add_argument("query", nargs="?", default="", help="what to do")
    ask.add_argument("--url", default=None, help="server base URL (default: the configured one)")
    ask.add_argument("--audio", default=None, help="send this recording instead of text")
    ask.add_argument("--listen", default=None, metavar="FILE",
                     help="stream this recording over the listen socket, as a microphone would")
    ask.add_argument("--mic", action="store_true",
                     help="speak into the microphone (arecord or ffmpeg); the server hears when"
                          " you stop")
    ask.add_argument("--token", default=os.environ.get("VOICE_MCP_TOKEN"),
                     help="bearer token (default: $VOICE_MCP_TOKEN, or one signed locally)")
    ask.add_argument("--user", default="cli", help="user id for a locally signed token")
    ask.add_argument("--conversation", default=None, help="continue this conversation id")
    ask.add_argument("--yes", action="store_true", help="approve confirmations without asking")
    ask.add_argument("--timings", action="store_true",
                     help="show where the time went (the done payload's timings)")
    ask.set_defaults(func=_ask)

    init = commands.add_parser("init", help="write an editable config/ folder")
    init.add_argument("dir", nargs="?", default=".", help="where to create config/ (default: .)")
    init.set_defaults(func=_init)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Parse arguments and run the chosen command (each reads the settings it needs)."""
    args = build_parser().parse_args(argv)
    from voice_mcp.config_error import ConfigError

    try:
        return int(args.func(args))
    except ConfigError as err:
        print(f"voice-mcp: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
