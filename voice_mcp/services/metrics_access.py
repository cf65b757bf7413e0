"""Who may read `/metrics`: metric labels name routes, services and failure codes, which is
reconnaissance for anyone else.

With `VOICE_MCP_METRICS_TOKEN` set, a request must carry `Authorization: Bearer <token>`.
Without it, only a client on this machine that did not come through a reverse proxy (no
`Forwarded`/`X-Forwarded-For`/`X-Real-IP` header) is served: a local Prometheus works with
nothing configured, and a proxy in front never exposes the metrics by accident.
"""

from __future__ import annotations

import hmac
import ipaddress

from voice_mcp.errors import AppError, Unauthorized

PROXY_HEADERS = ("Forwarded", "X-Forwarded-For", "X-Real-IP")


def _is_loopback(remote: str | None) -> bool:
    try:
        return remote is not None and ipaddress.ip_address(remote).is_loopback
    except ValueError:
        return False


def check_metrics_access(token: str | None, authorization: str, remote: str | None, *,
                         proxied: bool) -> None:
    """Return when the request may read the metrics; raise 401/403 otherwise."""
    if token is not None:
        scheme, _, given = authorization.partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(),
                                                                  token.encode()):
            raise Unauthorized("The metrics need the bearer token set in"
                               " VOICE_MCP_METRICS_TOKEN.", code="invalid_token")
        return
    if proxied or not _is_loopback(remote):
        raise AppError("The metrics are served to this machine only; set"
                       " VOICE_MCP_METRICS_TOKEN to scrape them from elsewhere.",
                       code="forbidden", status=403)
