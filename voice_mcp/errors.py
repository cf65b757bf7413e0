"""Coded domain errors, and the one place any failure becomes one (docs/api.md, "Errors").

Services raise these and know nothing of HTTP responses; `status` is only a hint the
route layer reads when it translates. `to_app_error` is used by the HTTP middleware, the
command stream and the OAuth callback page alike.
"""

from __future__ import annotations

import logging

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

log = logging.getLogger(__name__)

REDIS_DOWN = (RedisConnectionError, RedisTimeoutError)


class AppError(Exception):
    """A failure with a machine-readable code and a message safe to show a client."""

    code = "internal_error"
    status = 500
    retryable = False

    def __init__(self, message: str, *, code: str | None = None, status: int | None = None,
                 retryable: bool | None = None, retry_after: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        if status is not None:
            self.status = status
        if retryable is not None:
            self.retryable = retryable
        self.retry_after = retry_after


class BadRequest(AppError):
    code = "bad_request"
    status = 400


class Unauthorized(AppError):
    code = "unauthorized"
    status = 401


class Forbidden(AppError):
    code = "forbidden"
    status = 403


class NotFound(AppError):
    code = "not_found"
    status = 404


class Conflict(AppError):
    code = "conflict"
    status = 409


class Gone(AppError):
    code = "gone"
    status = 410


class PayloadTooLarge(AppError):
    code = "payload_too_large"
    status = 413


class UnsupportedMediaType(AppError):
    code = "unsupported_media_type"
    status = 415


class RateLimited(AppError):
    code = "rate_limited"
    status = 429
    retryable = True


class ServiceUnavailable(AppError):
    code = "service_unavailable"
    status = 503
    retryable = True


class LLMNotConfigured(ServiceUnavailable):
    code = "llm_not_configured"
    retryable = False


class LLMUnavailable(ServiceUnavailable):
    code = "llm_unavailable"


class TranscriptionFailed(AppError):
    code = "transcription_failed"
    status = 502


class SpeechFailed(AppError):
    code = "tts_failed"
    status = 502


class ReauthRequired(AppError):
    """A service's OAuth grant is no longer usable; the user must connect it again."""

    code = "reauth_required"
    status = 401

    def __init__(self, service_id: str) -> None:
        super().__init__(f"Service '{service_id}' needs to be connected again.")
        self.service_id = service_id


class NotConnected(AppError):
    """The user has not connected this OAuth service."""

    code = "not_connected"
    status = 409

    def __init__(self, service_id: str) -> None:
        super().__init__(f"Service '{service_id}' is not connected.")
        self.service_id = service_id


def redis_unavailable() -> ServiceUnavailable:
    """The error a client sees when Redis cannot be reached (a 503 that says when to retry)."""
    return ServiceUnavailable("Storage is unavailable; try again shortly.",
                              code="redis_unavailable", retry_after=5)


def to_app_error(exc: BaseException, context: str = "request") -> AppError:
    """Any failure as the AppError a client may see; unexpected ones are logged, never shown.

    `context` names what failed in the log line ("request", "command", "oauth callback").
    """
    if isinstance(exc, AppError):
        if exc.status >= 500:
            log.warning("%s failed: %s", context, exc.code)
        return exc
    if isinstance(exc, REDIS_DOWN):
        log.warning("%s failed: redis unavailable", context)
        return redis_unavailable()
    log.error("%s failed", context, exc_info=exc)
    return AppError("Something went wrong on our side.")
