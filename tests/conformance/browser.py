"""The user of the conformance client: the app's HTTP API and a browser for the OAuth leg."""

from __future__ import annotations

import sys
from typing import Any
from urllib.parse import parse_qs, urlsplit

import aiohttp
from yarl import URL

from voice_mcp.client.sse import read_events

MAX_REDIRECTS = 10


class Browser:
    """One user with a bearer token, and the browser (cookies, redirects) they sign in with."""

    def __init__(self, base: str, token: str) -> None:
        self.base = base
        self._headers = {"Authorization": f"Bearer {token}"}
        self._http: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> Browser:
        # unsafe: the app lives at 127.0.0.1, and the default jar keeps no cookie of an IP host.
        self._http = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True),
                                           timeout=aiohttp.ClientTimeout(total=60))
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._http is not None:
            await self._http.close()

    @property
    def http(self) -> aiohttp.ClientSession:
        assert self._http is not None
        return self._http

    async def api(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        """Call the app's API as the user."""
        async with self.http.request(method, self.base + path, json=body,
                                     headers=self._headers) as resp:
            data = await resp.json() if resp.content_type == "application/json" else None
            return resp.status, data

    async def service(self, service_id: str) -> dict[str, Any]:
        """The service's entry in GET /api/services."""
        status, data = await self.api("GET", "/api/services")
        assert status == 200, data
        entry: dict[str, Any] = next(s for s in data["services"] if s["id"] == service_id)
        return entry

    async def connect(self, service_id: str) -> None:
        """POST connect, follow the start link through the provider back to the app, grant."""
        status, data = await self.api("POST", f"/api/services/{service_id}/connect")
        if status != 200:
            _log(f"connect answered {status}: {data}")
            return
        landing = await self._follow(data["authorizationUrl"])
        if landing is None:
            return
        outcome = _fragment_or_query(landing)
        if "grant" in outcome:
            status, data = await self.api("POST", f"/api/services/{service_id}/grant",
                                          {"grant": outcome["grant"]})
            _log(f"grant answered {status}")
        elif "error" in outcome:
            _log(f"the sign-in failed: {outcome['error']}")

    async def command(self, query: str) -> dict[str, Any]:
        """Send a text command; approve what it holds for approval; the final done payload."""
        status, done = await self.api("POST", "/api/voice/llm", {"query": query})
        for _ in range(5):
            if status == 200 and done.get("status") == "input_required":
                status, done = await self.accept_defaults(done)
                continue
            if status != 200 or done.get("status") != "confirmation_required":
                break
            confirmation = done["confirmation"]["confirmationId"]
            status, done = await self.api("POST", "/api/voice/confirm",
                                          {"confirmationId": confirmation, "approved": True})
        if status != 200:
            _log(f"command answered {status}: {done}")
            return {"status": f"http {status}"}
        assert isinstance(done, dict)
        return done

    async def accept_defaults(self, early: dict[str, Any]) -> tuple[int, Any]:
        """A service asked (docs/api.md, "Services that ask"): accept with its defaults, then
        follow the command's events, accepting every further question the same way, to its end."""
        command = early["commandId"]
        status = await self._accept(command, early["input"]["inputId"])
        if status != 202:
            return status, {}
        async with self.http.get(f"{self.base}/api/voice/commands/{command}/events",
                                 headers=self._headers) as resp:
            async for event in read_events(resp.content.iter_any()):
                data = event.json()
                if event.event == "progress" and data.get("type") == "input_required" \
                        and data.get("inputId") != early["input"]["inputId"]:
                    await self._accept(command, data["inputId"])
        status, view = await self.api("GET", f"/api/voice/commands/{command}")
        return status, (view or {}).get("done") or {}

    async def _accept(self, command: str, input_id: str) -> int:
        status, _ = await self.api("POST", f"/api/voice/commands/{command}/input",
                                   {"inputId": input_id, "action": "accept", "content": {}})
        return status

    async def _follow(self, url: str) -> str | None:
        """Follow redirects as a browser does until a page of the app (or a dead end)."""
        for _ in range(MAX_REDIRECTS):
            async with self.http.get(url, allow_redirects=False) as resp:
                location = resp.headers.get("Location")
                if resp.status not in (301, 302, 303, 307, 308) or location is None:
                    if url.startswith(self.base):
                        return url  # a page of the app: the old callback page
                    _log(f"the sign-in stopped at {resp.status} from {urlsplit(url).netloc}")
                    return None
            url = str(resp.url.join(URL(location)))
            if url.startswith(self.base) and urlsplit(url).path in ("", "/"):
                return url  # back at the console (its fragment carries the outcome)
        return None


def _fragment_or_query(url: str) -> dict[str, str]:
    parts = urlsplit(url)
    found = {k: v[0] for k, v in parse_qs(parts.query).items()}
    found.update({k: v[0] for k, v in parse_qs(parts.fragment).items()})
    return found


def _log(message: str) -> None:
    print(f"[voice-mcp conformance] {message}", file=sys.stderr, flush=True)
