"""Structured logs: a JSON formatter, the request id on every line, one line per request.

``logging: {format: json}`` puts a :class:`JsonFormatter` handler on the ``pointsman`` logger
(which then stops propagating, so lines are not written twice); ``format: text`` leaves the
process's handlers alone. Either way every record logged while a request is being handled
carries its id: the observe stage sets :data:`REQUEST_ID`, a context variable, which follows
the request's task through the pipeline, the attempt loop and the relayed stream.

The request line (logger ``pointsman.requests``) holds who, what, where, how long, how much;
never headers, never secrets. Bodies are added only when ``logging.log_bodies`` is on *and*
the caller's key says ``log_bodies: true`` in its metadata; fields named like credentials are
replaced by ``"[redacted]"`` even then.
"""

from __future__ import annotations

import asyncio
import logging
import re
import sys
import time
from collections.abc import Callable
from contextvars import ContextVar
from typing import Any

import msgspec

from pointsman.observe.settings import LoggingSettings

REQUEST_ID: ContextVar[str | None] = ContextVar("pointsman_request_id", default=None)
MAX_BODY_CHARS = 16_384
_SECRET_NAME = re.compile(r"(api[_-]?key|authori[sz]ation|password|secret|token$|^key$)", re.I)
_encode = msgspec.json.Encoder().encode
_decode = msgspec.json.decode
requests_log = logging.getLogger("pointsman.requests")


def _timestamp(created: float) -> str:
    whole = int(created)
    return (
        time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole)) + f".{int(created % 1 * 1000):03d}Z"
    )


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ``ts``, ``level``, ``logger``, ``message``, ``request_id``
    (when a request is being handled), the record's ``fields`` (``extra={"fields": {...}}``),
    and ``exception``. A message that is itself a JSON object (the reliability events) is
    merged in rather than quoted."""

    def format(self, record: logging.LogRecord) -> str:
        fields = getattr(record, "fields", None)
        if fields and isinstance(record.msg, RequestLine):
            message = str(fields.get("event", "request"))  # the fields say it all
        else:
            message = record.getMessage()
        data: dict[str, Any] = {
            "ts": _timestamp(record.created),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": message,
        }
        rid = getattr(record, "request_id", None) or REQUEST_ID.get()
        if rid is not None:
            data["request_id"] = rid
        if fields:
            data.update(fields)
        elif message.startswith("{") and message.endswith("}"):
            try:
                event = _decode(message)
            except msgspec.DecodeError:
                event = None
            if isinstance(event, dict):
                data["message"] = str(event.pop("event", "event"))
                data.update(event)
        if record.exc_info:
            data["exception"] = self.formatException(record.exc_info)
        return _encode(data).decode()


def redact(value: Any) -> Any:
    """``value`` with every field named like a credential replaced (recursively)."""
    if isinstance(value, dict):
        return {
            k: "[redacted]" if _SECRET_NAME.search(str(k)) else redact(v) for k, v in value.items()
        }
    if isinstance(value, list):
        return [redact(v) for v in value]
    return value


def body_text(value: Any) -> str:
    """A body as compact JSON, cut to :data:`MAX_BODY_CHARS`."""
    if isinstance(value, bytes | bytearray):
        raw = bytes(value)
        try:
            value = _decode(raw)
        except msgspec.DecodeError:
            return raw[:MAX_BODY_CHARS].decode("utf-8", "replace")
    text: str = _encode(redact(value)).decode()
    return text if len(text) <= MAX_BODY_CHARS else text[:MAX_BODY_CHARS] + "...[cut]"


class RequestLine:
    """A request log message, rendered only if a handler writes it (text: ``key=value``)."""

    __slots__ = ("fields",)

    def __init__(self, fields: dict[str, Any]) -> None:
        self.fields = fields

    def __str__(self) -> str:
        parts = [f"{k}={v}" for k, v in self.fields.items() if not k.endswith("_body")]
        return "request " + " ".join(parts)


class JsonLines:
    """The request log's fast path in JSON mode: each line is encoded at once and the lines of
    one event-loop turn are written together, once the turn ends (one ``write`` for many
    requests instead of a trip through the logging machinery each, which costs several times
    more than the rest of observing a request). Lines match :class:`JsonFormatter`'s."""

    def __init__(self, stream: Any) -> None:
        self.stream = stream
        self.pending: list[bytes] = []
        self._second = -1
        self._prefix = ""

    def _ts(self, now: float) -> str:
        second = int(now)
        if second != self._second:  # strftime once a second, not once a line
            self._second = second
            self._prefix = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
        return f"{self._prefix}.{int(now % 1 * 1000):03d}Z"

    def write(self, fields: dict[str, Any], request_id: str) -> None:
        line = {
            "ts": self._ts(time.time()),
            "level": "info",
            "logger": requests_log.name,
            "message": "request",
            "request_id": request_id,
            **fields,
        }
        pending = self.pending
        pending.append(_encode(line))
        if len(pending) == 1:
            try:
                asyncio.get_running_loop().call_soon(self.flush)
            except RuntimeError:  # no event loop: write now
                self.flush()

    def flush(self) -> None:
        lines, self.pending = self.pending, []
        if lines:
            try:
                self.stream.write(b"\n".join(lines).decode() + "\n")
                self.stream.flush()
            except (OSError, ValueError):  # stderr closed at shutdown: drop, never fail
                pass


class RequestLog:
    """Where request lines go: the :class:`JsonLines` fast path while JSON logging is set up
    (``writer``, set by the owner after :func:`configure_logging`), else the logging module."""

    def __init__(self) -> None:
        self.writer: JsonLines | None = None

    def write(self, fields: dict[str, Any], request_id: str) -> None:
        """Write the request line (INFO on ``pointsman.requests``) if that level is enabled."""
        if requests_log.isEnabledFor(logging.INFO):
            if self.writer is not None:
                self.writer.write(fields, request_id)
            else:
                extra = {"fields": fields, "request_id": request_id}
                requests_log.info(RequestLine(fields), extra=extra)


def configure_logging(settings: LoggingSettings) -> tuple[Callable[[], None], JsonLines | None]:
    """Apply ``settings`` to the ``pointsman`` loggers. Returns a function that undoes it, and
    in JSON mode the fast writer for request lines (to the same stream)."""
    root = logging.getLogger("pointsman")
    level, propagate = root.level, root.propagate
    handler: logging.Handler | None = None
    writer: JsonLines | None = None
    if settings.level is not None:
        root.setLevel(settings.level.upper())
    if settings.format == "json":
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(JsonFormatter())
        root.addHandler(handler)
        root.propagate = False
        if root.getEffectiveLevel() > logging.INFO and settings.level is None:
            root.setLevel(logging.INFO)
        writer = JsonLines(sys.stderr)

    def undo() -> None:
        root.setLevel(level)
        root.propagate = propagate
        if handler is not None:
            root.removeHandler(handler)
        if writer is not None:
            writer.flush()

    return undo, writer
