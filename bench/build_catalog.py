"""Build the discovery evaluation catalog from real MCP servers installed from the registries.

Run: `python -m bench.build_catalog` (`--only ID,ID` to list a few; `--offline` to use what is
already installed). It installs the pinned servers below into bench/.cache/ (git-ignored):
npm packages with `npm install --ignore-scripts` (no post-install downloads), PyPI packages
with `pip install --target` (one folder each, so their dependencies cannot clash). Each server
is started over stdio with dummy credentials and every URL pointed at 127.0.0.1 (nothing leaves
the machine), its `tools/list` answer is read with the mcp SDK client, and the result is
written to bench/.cache/discovery_catalog.json: each service's origin (`package@version`) and
its tools as the server defines them (name, title, description, inputSchema, outputSchema,
annotations).
A server that does not start, or lists nothing, is skipped with a line on stderr.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import anyio
from mcp import Client
from mcp.client.stdio import StdioServerParameters, stdio_client

CACHE = Path(__file__).resolve().parent / ".cache"
CATALOG = CACHE / "discovery_catalog.json"
NPM_DIR = CACHE / "npm"
PYPI_DIR = CACHE / "pypi"
LIST_TIMEOUT_S = 60.0
LOOPBACK = "http://127.0.0.1:9"  # the discard port: nothing listens, every request fails fast
FAKE = "dummy-token-0000000000000000"


@dataclass(frozen=True)
class Server:
    """One MCP server package: where it comes from and how it starts."""

    id: str
    title: str
    registry: str  # "npm" or "pypi"
    package: str
    version: str
    entry: str = ""  # npm: the bin name if the package has several; pypi: the module to run
    args: tuple[str, ...] = ()
    env: dict[str, str] = field(default_factory=dict)
    pins: tuple[str, ...] = ()  # pypi: extra requirements, e.g. the mcp SDK major it was built on
    files: dict[str, str] = field(default_factory=dict)  # dummy files written in its workdir

    @property
    def origin(self) -> str:
        return f"{self.registry}:{self.package}@{self.version}"


def _npm(sid: str, title: str, spec: str, *args: str, files: dict[str, str] | None = None,
         **env: str) -> Server:
    package, version = spec.rsplit("@", 1)
    return Server(sid, title, "npm", package, version, "", args, env, files=files or {})


def _pypi(sid: str, title: str, spec: str, entry: str, *args: str, pins: tuple[str, ...] = (),
          **env: str) -> Server:
    package, version = spec.split("==")
    return Server(sid, title, "pypi", package, version, entry, args, env, pins)


GOOGLE_KEYS = json.dumps({"installed": {"client_id": "dummy.apps.example", "client_secret": FAKE,
                                        "redirect_uris": ["http://127.0.0.1:9/oauth2callback"]}})
GOOGLE_TOKEN = json.dumps({"access_token": FAKE, "refresh_token": FAKE, "token_type": "Bearer",
                           "expiry_date": 4102444800000})
KUBECONFIG = json.dumps({
    "apiVersion": "v1", "kind": "Config", "current-context": "dummy",
    "clusters": [{"name": "dummy", "cluster": {"server": "https://127.0.0.1:9"}}],
    "users": [{"name": "dummy", "user": {"token": FAKE}}],
    "contexts": [{"name": "dummy", "context": {"cluster": "dummy", "user": "dummy"}}]})


MCP = "@modelcontextprotocol/server-"
# Pinned: the catalog, and so the evaluation's figures, only change when this list does.
SERVERS: tuple[Server, ...] = (
    _npm("github", "GitHub", f"{MCP}github@2025.4.8", GITHUB_PERSONAL_ACCESS_TOKEN=FAKE),
    _npm("gitlab", "GitLab", f"{MCP}gitlab@2025.4.25", GITLAB_PERSONAL_ACCESS_TOKEN=FAKE,
         GITLAB_API_URL=f"{LOOPBACK}/api/v4"),
    _npm("slack", "Slack", f"{MCP}slack@2025.4.25", SLACK_BOT_TOKEN=f"xoxb-{FAKE}",
         SLACK_TEAM_ID="T00000000"),
    _npm("filesystem", "Filesystem", f"{MCP}filesystem@2026.8.31", "{workdir}"),
    _npm("memory", "Knowledge graph memory", f"{MCP}memory@2026.8.31",
         MEMORY_FILE_PATH="{workdir}/memory.json"),
    _npm("everything", "Everything (MCP test server)", f"{MCP}everything@2026.8.31"),
    _npm("puppeteer", "Puppeteer browser", f"{MCP}puppeteer@2025.5.12"),
    _npm("brave-search", "Brave Search", f"{MCP}brave-search@0.6.2", BRAVE_API_KEY=FAKE),
    _npm("google-maps", "Google Maps", f"{MCP}google-maps@0.6.2", GOOGLE_MAPS_API_KEY=FAKE),
    _npm("postgres", "PostgreSQL", f"{MCP}postgres@0.6.2",
         "postgresql://user:pass@127.0.0.1:9/db"),
    _npm("redis", "Redis", f"{MCP}redis@2025.4.25", "redis://127.0.0.1:9"),
    _npm("sequential-thinking", "Sequential thinking", f"{MCP}sequential-thinking@2026.8.31"),
    _npm("gdrive", "Google Drive", f"{MCP}gdrive@2025.1.14",
         files={"keys.json": GOOGLE_KEYS, "token.json": GOOGLE_TOKEN},
         GDRIVE_OAUTH_PATH="{workdir}/keys.json", GDRIVE_CREDENTIALS_PATH="{workdir}/token.json"),
    _npm("everart", "EverArt image generation", f"{MCP}everart@0.6.2", EVERART_API_KEY=FAKE),
    _npm("notion", "Notion", "@notionhq/notion-mcp-server@2.5.2", NOTION_TOKEN=f"ntn_{FAKE}"),
    _npm("playwright", "Playwright browser", "@playwright/mcp@0.0.83", "--headless"),
    _npm("chrome-devtools", "Chrome DevTools", "chrome-devtools-mcp@1.11.0"),
    _npm("firecrawl", "Firecrawl web scraping", "firecrawl-mcp@3.26.0",
         FIRECRAWL_API_KEY=f"fc-{FAKE}", FIRECRAWL_API_URL=LOOPBACK),
    _npm("kubernetes", "Kubernetes", "mcp-server-kubernetes@4.1.7",
         files={"kubeconfig": KUBECONFIG}, KUBECONFIG="{workdir}/kubeconfig"),
    _npm("supabase", "Supabase", "@supabase/mcp-server-supabase@0.13.0",
         "--access-token", f"sbp_{FAKE}", SUPABASE_API_URL=LOOPBACK),
    _npm("context7", "Context7 library docs", "@upstash/context7-mcp@4.1.1"),
    _npm("tavily", "Tavily web search", "tavily-mcp@0.2.22", TAVILY_API_KEY=f"tvly-{FAKE}"),
    _npm("sentry", "Sentry", "@sentry/mcp-server@0.39.0", "--access-token", FAKE,
         "--host", "127.0.0.1:9", SENTRY_ACCESS_TOKEN=FAKE),
    _npm("stripe", "Stripe", "@stripe/mcp@0.3.3", "--tools=all", f"--api-key=sk_test_{FAKE}",
         STRIPE_SECRET_KEY=f"sk_test_{FAKE}"),
    _npm("exa", "Exa web search", "exa-mcp-server@3.4.1", EXA_API_KEY=FAKE),
    _npm("heroku", "Heroku", "@heroku/mcp-server@1.2.8", HEROKU_API_KEY=FAKE),
    _npm("hubspot", "HubSpot CRM", "@hubspot/mcp-server@0.4.0",
         PRIVATE_APP_ACCESS_TOKEN=f"pat-{FAKE}"),
    _npm("azure-devops", "Azure DevOps", "@azure-devops/mcp@2.10.0", "example-org",
         "--authentication", "envvar", ADO_MCP_AUTH_TOKEN=FAKE),
    _npm("mongodb", "MongoDB", "mongodb-mcp-server@3.0.4",
         MDB_MCP_CONNECTION_STRING="mongodb://127.0.0.1:9/db", MDB_MCP_TELEMETRY="disabled"),
    _npm("circleci", "CircleCI", "@circleci/mcp-server-circleci@0.20.0",
         CIRCLECI_TOKEN=FAKE, CIRCLECI_BASE_URL=LOOPBACK),
    _npm("gmail", "Gmail", "@gongrzhe/server-gmail-autoauth-mcp@1.1.11",
         files={"keys.json": GOOGLE_KEYS, "token.json": GOOGLE_TOKEN},
         GMAIL_OAUTH_PATH="{workdir}/keys.json", GMAIL_CREDENTIALS_PATH="{workdir}/token.json"),
    _npm("zereight-gitlab", "GitLab (community server)", "@zereight/mcp-gitlab@2.1.64",
         GITLAB_PERSONAL_ACCESS_TOKEN=FAKE, GITLAB_API_URL=f"{LOOPBACK}/api/v4"),
    _npm("weather", "Weather", "@dangahagan/weather-mcp@1.23.0"),
    _npm("amap", "高德地图 (AMap)", "@amap/amap-maps-mcp-server@0.0.8", AMAP_MAPS_API_KEY=FAKE),
    _npm("howtocook", "程序员做饭指南 (HowToCook recipes)", "howtocook-mcp@0.2.2"),
    _pypi("git", "Git", "mcp-server-git==2026.10.19", "mcp_server_git:main", "--repository",
          "{workdir}"),
    _pypi("time", "Time", "mcp-server-time==2026.10.19", "mcp_server_time:main"),
    _pypi("fetch", "Fetch web pages", "mcp-server-fetch==2026.10.24", "mcp_server_fetch:main"),
    _pypi("sqlite", "SQLite", "mcp-server-sqlite==2025.4.25", "mcp_server_sqlite:main",
          "--db-path", "{workdir}/test.db", pins=("mcp<2",)),
    _pypi("12306", "12306 火车票 (China Railway tickets)", "12306-mcp==0.1.7", "mcp_12306:main",
          pins=("mcp<2",)),
)


def say(message: str) -> None:
    print(f"build_catalog: {message}", file=sys.stderr, flush=True)


def install_npm(servers: Sequence[Server]) -> None:
    """One `npm install` of every pinned package; no install scripts (they download)."""
    wanted = [s for s in servers if s.registry == "npm" and not _npm_installed(s)]
    if not wanted:
        return
    NPM_DIR.mkdir(parents=True, exist_ok=True)
    manifest = NPM_DIR / "package.json"
    if not manifest.exists():
        manifest.write_text('{"private": true}\n')
    say(f"npm install {len(wanted)} packages into {NPM_DIR}")
    done = subprocess.run(["npm", "install", "--ignore-scripts", "--no-audit", "--no-fund",
                           *(f"{s.package}@{s.version}" for s in wanted)],
                          cwd=NPM_DIR, check=False,
                          env={**os.environ, "PUPPETEER_SKIP_DOWNLOAD": "1"})
    if done.returncode:  # its servers are then skipped, each with a line
        say(f"npm install failed ({done.returncode}); listing what is installed")


def _npm_installed(server: Server) -> bool:
    manifest = NPM_DIR / "node_modules" / server.package / "package.json"
    return manifest.exists() and json.loads(manifest.read_text())["version"] == server.version


def install_pypi(server: Server) -> None:
    """The package and its own dependencies in a folder of its own."""
    target = PYPI_DIR / server.id
    stamp = target / ".installed"
    if stamp.exists() and stamp.read_text() == " ".join((server.origin, *server.pins)):
        return
    say(f"pip install {server.package}=={server.version} into {target}")
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--upgrade", "--target",
                    str(target), f"{server.package}=={server.version}", *server.pins],
                   check=True)
    stamp.write_text(" ".join((server.origin, *server.pins)))


def command(server: Server, workdir: str) -> tuple[str, list[str], dict[str, str]]:
    """The command, arguments and environment that start the server."""
    args = [a.replace("{workdir}", workdir) for a in server.args]
    env = {k: v.replace("{workdir}", workdir) for k, v in server.env.items()}
    base = {"PATH": os.environ.get("PATH", ""), "HOME": workdir, "LANG": "C.UTF-8",
            "HTTP_PROXY": LOOPBACK, "HTTPS_PROXY": LOOPBACK, "NO_PROXY": "",
            "NODE_USE_ENV_PROXY": "1", "DO_NOT_TRACK": "1"}
    if server.registry == "pypi":
        base["PYTHONPATH"] = str(PYPI_DIR / server.id)
        module, function = server.entry.split(":")
        code = f"import sys; from {module} import {function}; sys.exit({function}())"
        return sys.executable, ["-c", code, *args], base | env
    manifest = NPM_DIR / "node_modules" / server.package / "package.json"
    if not manifest.exists():
        raise FileNotFoundError(f"{server.package} is not installed")
    bins = json.loads(manifest.read_text()).get("bin", {})
    script = bins if isinstance(bins, str) else bins.get(server.entry) or next(iter(bins.values()))
    return "node", [str(manifest.parent / script), *args], base | env


def list_tools(server: Server) -> list[dict[str, Any]]:
    """The server's tools as it answers `tools/list`, every page."""
    # A server may still be writing into its HOME while the folder is removed.
    with (tempfile.TemporaryDirectory(prefix=f"catalog-{server.id}-",
                                      ignore_cleanup_errors=True) as workdir,
          open(os.devnull, "w") as errlog):
        if server.id == "git":
            subprocess.run(["git", "init", "-q", workdir], check=True)
        for name, content in server.files.items():
            Path(workdir, name).write_text(content, encoding="utf-8")
        cmd, args, env = command(server, workdir)
        params = StdioServerParameters(command=cmd, args=args, env=env, cwd=workdir)
        tools = anyio.run(_list, params, errlog)
    return [{k: t[k] for k in ("name", "title", "description", "inputSchema", "outputSchema",
                                     "annotations")
             if k in t} for t in tools]


async def _list(params: StdioServerParameters, errlog: TextIO) -> list[dict[str, Any]]:
    with anyio.fail_after(LIST_TIMEOUT_S):
        async with (stdio_client(params, errlog=errlog) as streams,
                    Client(contextlib.nullcontext(streams), mode="auto", cache=None) as client):
            tools: list[dict[str, Any]] = []
            cursor: str | None = None
            for _ in range(20):
                page = await client.list_tools(cursor=cursor)
                tools.extend(t.model_dump(mode="json", by_alias=True, exclude_none=True)
                             for t in page.tools)
                if not (cursor := page.next_cursor):
                    break
    return tools


def build(servers: Sequence[Server]) -> dict[str, Any]:
    services = []
    for server in servers:
        try:
            tools = list_tools(server)
        except Exception as exc:  # noqa: BLE001 - any failure skips that server
            while isinstance(exc, ExceptionGroup) and exc.exceptions:
                exc = exc.exceptions[0]
            say(f"skipped {server.id} ({server.origin}): {type(exc).__name__}: {exc}"[:300])
            continue
        if not tools:
            say(f"skipped {server.id} ({server.origin}): no tools")
            continue
        say(f"{server.id}: {len(tools)} tools")
        services.append({"id": server.id, "title": server.title, "origin": server.origin,
                         "tools": tools})
    return {"note": "tools/list answers of MCP servers installed from npm and PyPI "
                    "(bench/build_catalog.py), started with dummy credentials",
            "services": services}


def ensure_catalog() -> Path:
    """The catalog, built first if the cache has none."""
    if not CATALOG.exists():
        main([])
    return CATALOG


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.build_catalog",
                                     description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--only", help="comma-separated server ids")
    parser.add_argument("--offline", action="store_true", help="install nothing")
    args = parser.parse_args(argv)
    servers = [s for s in SERVERS if not args.only or s.id in args.only.split(",")]
    if not args.offline:
        install_npm(servers)
        for server in servers:
            if server.registry == "pypi":
                try:
                    install_pypi(server)
                except subprocess.CalledProcessError as exc:
                    say(f"could not install {server.origin}: {exc}")
    catalog = build(servers)
    CACHE.mkdir(parents=True, exist_ok=True)
    if args.only and CATALOG.exists():  # a partial run updates those services only
        old = json.loads(CATALOG.read_text(encoding="utf-8"))
        fresh = {s["id"] for s in catalog["services"]}
        catalog["services"] = [*[s for s in old["services"] if s["id"] not in fresh],
                               *catalog["services"]]
    order = {s.id: i for i, s in enumerate(SERVERS)}
    catalog["services"].sort(key=lambda s: order.get(s["id"], len(order)))
    CATALOG.write_text(json.dumps(catalog, ensure_ascii=False, indent=1) + "\n",
                       encoding="utf-8")
    count = sum(len(s["tools"]) for s in catalog["services"])
    say(f"wrote {CATALOG}: {count} tools of {len(catalog['services'])} services")


if __name__ == "__main__":
    main()
