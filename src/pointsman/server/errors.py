"""Typed errors → each client wire format's error body. The only place errors are formatted."""

from __future__ import annotations

import msgspec
from starlette.responses import Response

from pointsman.errors import PointsmanError

_encode = msgspec.json.encode


def openai_error_body(error: PointsmanError) -> bytes:
    """``{"error": {"message", "type", "param", "code"}}`` as OpenAI sends it."""
    return _encode(
        {
            "error": {
                "message": error.message,
                "type": error.type,
                "param": error.param,
                "code": error.code,
            }
        }
    )


def openai_error_response(error: PointsmanError, request_id: str | None = None) -> Response:
    headers = dict(error.headers)
    if request_id:
        headers["x-request-id"] = request_id
    return Response(
        openai_error_body(error),
        status_code=error.status,
        media_type="application/json",
        headers=headers,
    )
