"""An httpx transport that sends each request to the address the URL policy vetted.

The token, refresh and revocation requests go through authlib's client, which resolves
names itself; with this transport underneath, a name that resolves differently at request
time (DNS rebinding) or into a refused zone is never connected to.
"""

from __future__ import annotations

import logging

import httpx2

from voice_mcp.services.oauth.url_policy import UrlPolicy, UrlRefused

log = logging.getLogger(__name__)


class PinnedTransport(httpx2.AsyncBaseTransport):
    """Check every request URL with `policy` and connect to the checked address."""

    def __init__(self, policy: UrlPolicy, inner: httpx2.AsyncBaseTransport) -> None:
        self._policy = policy
        self._inner = inner

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        try:
            target = await self._policy.pin(str(request.url))
        except UrlRefused as err:
            log.warning("oauth request refused by the url policy", extra={"why": str(err)})
            raise httpx2.ConnectError(f"refused by the URL policy: {err}",
                                      request=request) from None
        request.url = httpx2.URL(target.url)
        request.headers.update(target.headers)
        request.extensions = {**request.extensions, **target.extensions}
        return await self._inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self._inner.aclose()
