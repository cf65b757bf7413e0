"""Read and validate request bodies; every problem becomes a 400 with a clear message."""

from __future__ import annotations

import json
from typing import TypeVar

from aiohttp import web
from pydantic import BaseModel, ValidationError

from voice_mcp.errors import BadRequest

M = TypeVar("M", bound=BaseModel)


def describe(err: ValidationError) -> str:
    """The first validation problem as one readable sentence."""
    first = err.errors()[0]
    field = ".".join(str(p) for p in first["loc"]) or "body"
    return f"{field}: {first['msg']}"


async def read_json(request: web.Request, model: type[M]) -> M:
    """Parse a JSON body into `model`, or raise BadRequest saying what is wrong."""
    if not request.can_read_body:
        raise BadRequest("The request needs a JSON body.", code="invalid_body")
    raw = await request.read()
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise BadRequest("The body is not valid JSON.", code="invalid_json") from None
    if not isinstance(data, dict):
        raise BadRequest("The body must be a JSON object.", code="invalid_body")
    try:
        return model.model_validate(data)
    except ValidationError as err:
        raise BadRequest(describe(err), code="invalid_body") from None
