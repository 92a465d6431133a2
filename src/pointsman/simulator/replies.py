"""What a handler asks the HTTP layer to do, and the bytes of HTTP/1.1 responses.

A handler returns one of four replies; :mod:`pointsman.simulator.connection` carries it out:

- :class:`Reply`: a complete response with a body, written after ``delay_s``.
- :class:`StreamReply`: a chunked ``text/event-stream`` response. After ``ttft_s`` the
  status line and the ``head`` events go out; then the ``paced`` events one every
  ``interval_s``; then the ``tail`` events and the terminating chunk. With ``cut_after`` set,
  the connection is closed after that many paced events instead, leaving the chunked body
  incomplete so that clients see an error rather than a short answer.
- :class:`Drop`: after ``delay_s``, close the connection without any response.
- :class:`Hang`: never answer; the connection stays open until the client gives up.

Every response carries ``x-simulated: true``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from http import HTTPStatus

import msgspec

__all__ = [
    "JSON",
    "LAST_CHUNK",
    "SSE",
    "AnyReply",
    "Drop",
    "Hang",
    "Reply",
    "StreamReply",
    "chunk",
    "error_reply",
    "head",
    "json_reply",
]

JSON = b"application/json"
SSE = b"text/event-stream"
LAST_CHUNK = b"0\r\n\r\n"


@dataclass(slots=True)
class Reply:
    """A complete response. ``headers`` holds extra lines, each ending in CRLF."""

    status: int
    body: bytes
    headers: bytes = b""
    content_type: bytes = JSON
    delay_s: float = 0.0


@dataclass(slots=True)
class StreamReply:
    """A streamed (chunked) server-sent-events response; events are complete SSE frames."""

    head: list[bytes]
    paced: list[bytes]
    tail: list[bytes] = field(default_factory=list)
    ttft_s: float = 0.0
    interval_s: float = 0.0
    cut_after: int | None = None
    headers: bytes = b""


@dataclass(slots=True)
class Drop:
    """Close the connection after ``delay_s`` without answering."""

    delay_s: float = 0.0


@dataclass(slots=True)
class Hang:
    """Never answer this request."""


AnyReply = Reply | StreamReply | Drop | Hang

_COMMON = b"server: pointsman-simulator\r\nx-simulated: true\r\n"
_PREFIXES: dict[tuple[int, bytes, bytes, bool], bytes] = {}
_MAX_PREFIXES = 512  # bounded: extra headers such as retry-after vary with profiles


def _prefix(status: int, content_type: bytes, headers: bytes, close: bool) -> bytes:
    try:
        phrase = HTTPStatus(status).phrase.encode("ascii")
    except ValueError:
        phrase = b"Unknown"
    return b"".join(
        (
            b"HTTP/1.1 %d %s\r\n" % (status, phrase),
            _COMMON,
            b"content-type: ",
            content_type,
            b"\r\n",
            headers,
            b"connection: close\r\n" if close else b"",
        )
    )


def head(
    status: int, content_type: bytes, headers: bytes, length: int | None, close: bool
) -> bytes:
    """Status line and headers, ending with the blank line.

    ``length`` None means a chunked body. ``close`` adds ``connection: close``.
    """
    key = (status, content_type, headers, close)
    prefix = _PREFIXES.get(key)
    if prefix is None:
        prefix = _prefix(status, content_type, headers, close)
        if len(_PREFIXES) < _MAX_PREFIXES:
            _PREFIXES[key] = prefix
    if length is None:
        return prefix + b"transfer-encoding: chunked\r\n\r\n"
    return prefix + b"content-length: %d\r\n\r\n" % length


def chunk(data: bytes) -> bytes:
    """``data`` framed as one HTTP/1.1 chunk (``data`` must not be empty)."""
    return b"%x\r\n%s\r\n" % (len(data), data)


_encode = msgspec.json.encode


def json_reply(status: int, payload: object, headers: bytes = b"") -> Reply:
    """A JSON response of ``payload`` (anything msgspec can encode)."""
    return Reply(status, _encode(payload), headers)


def error_reply(
    status: int,
    message: str,
    type_: str,
    code: str | None = None,
    param: str | None = None,
    headers: bytes = b"",
) -> Reply:
    """An error in the OpenAI shape ``{"error": {"message", "type", "param", "code"}}``.

    Also the generic shape for errors the HTTP layer raises itself (malformed request).
    """
    error = {"message": message, "type": type_, "param": param, "code": code}
    return Reply(status, _encode({"error": error}), headers)
