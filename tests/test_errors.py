"""The one error translation point used by the middleware, the command stream and OAuth."""

from __future__ import annotations

import logging

import pytest
from redis.exceptions import ConnectionError as RedisConnectionError

from voice_mcp.errors import AppError, NotFound, ServiceUnavailable, to_app_error


def test_an_app_error_passes_through() -> None:
    err = NotFound("No such thing.")
    assert to_app_error(err) is err


def test_redis_down_is_a_retryable_503(caplog: pytest.LogCaptureFixture) -> None:
    err = to_app_error(RedisConnectionError("connection refused at 10.0.0.1"))
    assert isinstance(err, ServiceUnavailable)
    assert (err.status, err.code, err.retryable, err.retry_after) == (
        503, "redis_unavailable", True, 5)
    assert "10.0.0.1" not in err.message


def test_anything_else_is_logged_and_shown_as_nothing(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.ERROR, logger="voice_mcp.errors"):
        err = to_app_error(RuntimeError("token=sk-secret"), "command")
    assert type(err) is AppError
    assert (err.status, err.code) == (500, "internal_error")
    assert "sk-secret" not in err.message
    assert caplog.records[0].getMessage() == "command failed"
    assert caplog.records[0].exc_info is not None
