"""Sort OpenAI SDK exceptions into what the caller can act on, without their text.

Provider error messages can echo part of an API key, so only the status, a short provider
code and our own words ever leave this module.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from enum import StrEnum

import aiohttp
import openai


class FailureKind(StrEnum):
    AUTH = "auth"
    RATE_LIMITED = "rate_limited"
    SERVER = "server"
    TIMEOUT = "timeout"
    CONNECTION = "connection"
    REJECTED = "rejected"
    BAD_RESPONSE = "bad_response"


_RETRYABLE = frozenset(
    {
        FailureKind.RATE_LIMITED,
        FailureKind.SERVER,
        FailureKind.TIMEOUT,
        FailureKind.CONNECTION,
    }
)
_SAFE_CODE = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


@dataclass(frozen=True, slots=True)
class Failure:
    """One classified SDK failure."""

    kind: FailureKind
    status: int | None = None
    provider_code: str | None = None
    retry_after: int | None = None

    @property
    def retryable(self) -> bool:
        return self.kind in _RETRYABLE

    def describe(self) -> str:
        """A short phrase such as `HTTP 404, model_not_found` for messages and logs."""
        parts = [f"HTTP {self.status}"] if self.status is not None else []
        if self.provider_code:
            parts.append(self.provider_code)
        return ", ".join(parts)

    def summary(self) -> str:
        """The kind and the details, e.g. `server (HTTP 500)`, for log lines."""
        detail = self.describe()
        return f"{self.kind} ({detail})" if detail else str(self.kind)


def classify(err: openai.OpenAIError) -> Failure:
    """Classify an exception raised by the SDK after its own retries."""
    if isinstance(err, openai.APITimeoutError):
        # The aiohttp transport reports a refused connection as a connect *timeout*.
        return Failure(FailureKind.CONNECTION if _refused(err) else FailureKind.TIMEOUT)
    if isinstance(err, openai.APIConnectionError):
        return Failure(FailureKind.CONNECTION)
    if isinstance(err, openai.APIStatusError):
        return _from_status(err)
    if isinstance(err, openai.APIResponseValidationError):
        return Failure(FailureKind.BAD_RESPONSE, status=err.status_code)
    if isinstance(err, openai.APIError):
        # An `error` object inside a stream: the server gave up part-way, usually overload.
        return Failure(FailureKind.SERVER, provider_code=_safe_code(err.code))
    return Failure(FailureKind.BAD_RESPONSE)


def _refused(err: BaseException) -> bool:
    """True when the cause chain shows the connection was refused or never opened."""
    seen: BaseException | None = err
    while seen is not None:
        if isinstance(seen, aiohttp.ClientConnectorError | ConnectionRefusedError):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def _from_status(err: openai.APIStatusError) -> Failure:
    status = err.status_code
    code = _safe_code(err.code)
    if status in (401, 403):
        kind = FailureKind.AUTH
    elif status == 429:
        kind = FailureKind.RATE_LIMITED
    elif status >= 500 or status == 408:
        kind = FailureKind.SERVER
    else:
        kind = FailureKind.REJECTED
    return Failure(kind, status=status, provider_code=code, retry_after=_retry_after(err))


def _safe_code(code: object) -> str | None:
    return code if isinstance(code, str) and _SAFE_CODE.match(code) else None


def _retry_after(err: openai.APIStatusError) -> int | None:
    value = err.response.headers.get("retry-after")
    try:
        seconds = float(value) if value is not None else math.nan
    except ValueError:
        return None
    return math.ceil(seconds) if math.isfinite(seconds) and seconds >= 0 else None
