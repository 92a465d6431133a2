"""Inbound request bodies: reading within limits and validating into canonical types.

Every failure becomes a typed error naming the field at fault (``messages[0].role``), which the
edge formats in the client's own wire format.
"""

from __future__ import annotations

import re
from typing import Any, TypeVar

import msgspec
from starlette.requests import Request

from pointsman.core.types import CONTENT_PART_TYPES
from pointsman.errors import (
    InvalidRequestError,
    PayloadTooLargeError,
    UnprocessableContentError,
    UnsupportedMediaTypeError,
)

T = TypeVar("T")
_AT = re.compile(r" - at `\$\.?(.*)`$")
_json_decode = msgspec.json.decode


async def read_body(request: Request, limit: int) -> bytes:
    """The raw body, refusing non-JSON media types and bodies over ``limit`` bytes."""
    headers = request.headers
    media = headers.get("content-type")
    if media is not None and "json" not in media:
        raise UnsupportedMediaTypeError(
            f"Content-Type must be application/json, got '{media.split(';')[0]}'"
        )
    length = headers.get("content-length")
    if length is not None and length.isdigit() and int(length) > limit:
        raise PayloadTooLargeError(f"Request body is {length} bytes; the limit is {limit} bytes")
    if length is not None:
        return await request.body()
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLargeError(f"Request body exceeds the limit of {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def parse_json(raw: bytes) -> dict[str, Any]:
    """Decode a JSON object. Raises :class:`InvalidRequestError` for anything else."""
    if not raw:
        raise InvalidRequestError("Request body is empty; send a JSON object")
    try:
        data = _json_decode(raw)
    except msgspec.DecodeError as error:
        raise InvalidRequestError(
            f"Request body is not valid JSON ({error})", code="invalid_json"
        ) from None
    if not isinstance(data, dict):
        raise InvalidRequestError("Request body must be a JSON object", code="invalid_json")
    return data


def validate(data: dict[str, Any], schema: type[T]) -> T:
    """Convert decoded JSON into ``schema``; errors name the offending field."""
    try:
        return msgspec.convert(data, schema)
    except msgspec.ValidationError as error:
        raise _explain(str(error), data) from None


def _explain(text: str, data: dict[str, Any]) -> InvalidRequestError:
    match = _AT.search(text)
    path = match.group(1) if match else ""
    detail = _AT.sub("", text)
    if detail.startswith("Object missing required field"):
        field = detail.split("`")[1]
        param = f"{path}.{field}" if path else field
        return InvalidRequestError(
            f"Missing required parameter: '{param}'", param=param, code="missing_required_parameter"
        )
    if path.endswith(".type") and "content[" in path and detail.startswith("Invalid value"):
        value = detail.split("'")[1] if "'" in detail else "?"
        return UnprocessableContentError(
            f"Unsupported content part type '{value}' at '{path}'; supported: "
            f"{', '.join(sorted(CONTENT_PART_TYPES))}",
            param=path,
        )
    where = f" for '{path}'" if path else ""
    return InvalidRequestError(
        f"Invalid value{where}: {detail[0].lower()}{detail[1:]}",
        param=path or None,
        code="invalid_value",
    )
