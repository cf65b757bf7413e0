"""Coded errors of the OAuth layer, built on voice_mcp.errors; messages never carry secrets."""

from __future__ import annotations

import re

from voice_mcp.errors import BadRequest, ServiceUnavailable

_SAFE_CODE = re.compile(r"^[a-z0-9_.-]{1,64}$")


class CallbackError(BadRequest):
    """The OAuth callback could not be completed; nothing was stored.

    Codes: `invalid_state` (unknown, tampered or already used), `state_expired`,
    `oauth_denied` (the user or provider refused), `oauth_failed` (the exchange failed).
    """

    def __init__(self, code: str, message: str, *, service_id: str | None = None) -> None:
        super().__init__(message, code=code)
        self.service_id = service_id


def safe_code(value: object) -> str | None:
    """An OAuth error code fit to repeat in a message, or None (provider text is untrusted)."""
    return value if isinstance(value, str) and _SAFE_CODE.match(value) else None


def discovery_failed(service_id: str, why: str) -> ServiceUnavailable:
    """The authorization server of a service could not be found or used."""
    return ServiceUnavailable(
        f"Cannot reach the authorization server of service '{service_id}': {why}.",
        code="oauth_discovery_failed",
    )


def provider_unavailable(service_id: str) -> ServiceUnavailable:
    """The token endpoint failed for a reason that may pass (network, 5xx)."""
    return ServiceUnavailable(
        f"The authorization server of service '{service_id}' is unavailable; try again.",
        code="oauth_unavailable",
    )
