"""Typed errors → each client wire format's error body (OpenAI, Anthropic). The only place
errors are formatted."""

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


# Anthropic's error types by status; statuses Anthropic does not use take the nearest kind.
ANTHROPIC_ERROR_TYPES = {
    401: "authentication_error",
    402: "billing_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    503: "overloaded_error",
    504: "timeout_error",
    529: "overloaded_error",
}


def anthropic_error_type(error: PointsmanError) -> str:
    status = error.status
    default = "api_error" if status >= 500 else "invalid_request_error"
    return ANTHROPIC_ERROR_TYPES.get(status, default)


def anthropic_error_body(error: PointsmanError) -> bytes:
    """``{"type": "error", "error": {"type", "message"}}`` as Anthropic sends it."""
    return _encode(
        {"type": "error", "error": {"type": anthropic_error_type(error), "message": error.message}}
    )


def anthropic_error_response(error: PointsmanError, request_id: str | None = None) -> Response:
    headers = dict(error.headers)
    if request_id:
        headers["request-id"] = headers["x-request-id"] = request_id
    return Response(
        anthropic_error_body(error),
        status_code=error.status,
        media_type="application/json",
        headers=headers,
    )
