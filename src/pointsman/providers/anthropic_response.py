"""Anthropic Messages API answers and errors → canonical shapes. Pure: no I/O.

* ``stop_reason`` → ``finish_reason``: ``end_turn``/``stop_sequence``/``pause_turn`` → ``stop``
  (the matched sequence goes to the choice's ``stop_reason``), ``max_tokens`` and
  ``model_context_window_exceeded`` → ``length``, ``tool_use`` → ``tool_calls``, ``refusal`` →
  ``content_filter``; a refusal before any output is a :class:`ContentFilteredError`.
* usage: Anthropic's ``input_tokens`` excludes cache reads and writes; canonical
  ``prompt_tokens`` includes both (``cached_tokens``, ``cache_write_tokens`` say how many).
  ``output_tokens`` includes thinking; ``output_tokens_details.thinking_tokens``, when sent,
  becomes ``reasoning_tokens``.
* content: text blocks join into ``content``; ``tool_use`` → ``tool_calls`` (arguments
  encoded as JSON text); ``thinking``/``redacted_thinking`` → ``reasoning_content`` plus the
  verbatim ``thinking_blocks``. In JSON tool mode, the JSON tool's input is the answer text.
* errors ``{"type": "error", "error": {"type", "message"}}`` → the typed hierarchy; an error
  *type* (mid-stream errors have no status) maps to the status Anthropic documents for it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import msgspec

from pointsman.core.types import Usage
from pointsman.errors import ContentFilteredError, UpstreamError, UpstreamProtocolError
from pointsman.providers.http import redact, status_error
from pointsman.providers.translated import completion_body

__all__ = [
    "ERROR_STATUS",
    "STOP_REASONS",
    "AnthropicUsage",
    "error_from_body",
    "error_from_event",
    "refusal",
    "to_completion",
]

STOP_REASONS = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "pause_turn": "stop",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "tool_use": "tool_calls",
    "refusal": "content_filter",
}
ERROR_STATUS = {
    "invalid_request_error": 400,
    "authentication_error": 401,
    "billing_error": 402,
    "permission_error": 403,
    "not_found_error": 404,
    "request_too_large": 413,
    "rate_limit_error": 429,
    "api_error": 500,
    "timeout_error": 504,
    "overloaded_error": 529,
}
_encode = msgspec.json.encode


class _OutputDetails(msgspec.Struct):
    thinking_tokens: int | None = None


class AnthropicUsage(msgspec.Struct):
    """Anthropic's ``usage`` object (in a message, ``message_start`` or ``message_delta``)."""

    input_tokens: int | None = None
    output_tokens: int | None = None
    cache_creation_input_tokens: int | None = None
    cache_read_input_tokens: int | None = None
    output_tokens_details: _OutputDetails | None = None

    def merge(self, later: AnthropicUsage) -> None:
        """Take the fields ``later`` (a ``message_delta``'s cumulative usage) carries."""
        for field in self.__struct_fields__:
            value = getattr(later, field)
            if value is not None:
                setattr(self, field, value)

    def to_usage(self) -> Usage:
        cache_read = self.cache_read_input_tokens or 0
        cache_write = self.cache_creation_input_tokens or 0
        output = self.output_tokens or 0
        details = self.output_tokens_details
        thinking = details.thinking_tokens if details and details.thinking_tokens else 0
        return Usage(
            prompt_tokens=(self.input_tokens or 0) + cache_read + cache_write,
            completion_tokens=output,
            cached_tokens=cache_read,
            cache_write_tokens=cache_write,
            reasoning_tokens=min(thinking, output),
        )


class _Message(msgspec.Struct):
    content: list[dict[str, Any]]
    id: str = ""
    model: str = ""
    stop_reason: str | None = None
    stop_sequence: str | None = None
    usage: AnthropicUsage = msgspec.field(default_factory=AnthropicUsage)


_message_decoder = msgspec.json.Decoder(_Message)


def to_completion(
    raw: bytes, deployment: str, created: int, json_tool: str | None = None
) -> tuple[bytes, Usage, str]:
    """An Anthropic ``message`` body → (canonical completion JSON, usage, finish reason).

    Raises :class:`UpstreamProtocolError` for a body that is not a message.
    """
    try:
        message = _message_decoder.decode(raw)
    except (msgspec.DecodeError, msgspec.ValidationError) as error:
        raise UpstreamProtocolError(
            f"{deployment}: malformed answer from upstream ({error})", deployment=deployment
        ) from None
    texts: list[str] = []
    thoughts: list[str] = []
    thinking_blocks: list[dict[str, Any]] = []
    tool_calls: list[dict[str, Any]] = []
    finish = STOP_REASONS.get(message.stop_reason or "end_turn", "stop")
    for block in message.content:
        kind = block.get("type")
        if kind == "text":
            texts.append(block.get("text", ""))
        elif kind == "tool_use" and json_tool is not None and block.get("name") == json_tool:
            texts.append(_encode(block.get("input", {})).decode())
            finish = "stop"
        elif kind == "tool_use":
            function = {"name": block.get("name", ""), "arguments": _arguments(block)}
            tool_calls.append({"id": block.get("id", ""), "type": "function"})
            tool_calls[-1]["function"] = function
        elif kind == "thinking":
            thoughts.append(block.get("thinking", ""))
            thinking_blocks.append(block)
        elif kind == "redacted_thinking":
            thinking_blocks.append(block)
    if finish == "content_filter" and not (texts or tool_calls):
        raise refusal(deployment)
    out: dict[str, Any] = {"role": "assistant", "content": "".join(texts) if texts else None}
    if tool_calls:
        out["tool_calls"] = tool_calls
    if thinking_blocks:
        out["reasoning_content"] = "".join(thoughts)
        out["thinking_blocks"] = thinking_blocks
    choice: dict[str, Any] = {"index": 0, "message": out, "logprobs": None}
    choice["finish_reason"] = finish
    if message.stop_sequence is not None:
        choice["stop_reason"] = message.stop_sequence
    usage = message.usage.to_usage()
    rid = "chatcmpl-" + message.id.removeprefix("msg_")
    return completion_body(rid, created, message.model, [choice], usage), usage, finish


def _arguments(block: Mapping[str, Any]) -> str:
    value = block.get("input")
    return _encode(value if value is not None else {}).decode()


class _ErrorBody(msgspec.Struct):
    type: str = ""
    message: str = ""


class _ErrorEnvelope(msgspec.Struct):
    error: _ErrorBody | None = None


_error_decoder = msgspec.json.Decoder(_ErrorEnvelope)


def _read_error(raw: bytes) -> tuple[str, str]:
    try:
        envelope = _error_decoder.decode(raw)
    except (msgspec.DecodeError, msgspec.ValidationError):
        return "", raw[:200].decode("utf-8", "replace")
    body = envelope.error or _ErrorBody()
    return body.type, body.message


def error_from_body(
    status: int, raw: bytes, headers: Mapping[str, str], deployment: str, secret: str | None
) -> UpstreamError:
    """An HTTP error answer from Anthropic → the typed hierarchy."""
    kind, message = _read_error(raw)
    return status_error(
        status, redact(message, secret), deployment=deployment, headers=headers, kind=kind
    )


def error_from_event(raw: bytes, deployment: str, secret: str | None) -> UpstreamError:
    """An ``event: error`` in a stream → the typed error its type stands for."""
    kind, message = _read_error(raw)
    status = ERROR_STATUS.get(kind, 500)
    text = f"upstream error mid-stream: {redact(message, secret) or kind or 'unknown'}"
    return status_error(status, text, deployment=deployment, headers={}, kind=kind)


def refusal(deployment: str) -> ContentFilteredError:
    """The error for a request Anthropic's safety systems refused before answering anything."""
    return ContentFilteredError(
        f"{deployment}: the provider refused to answer (stop_reason: refusal)",
        deployment=deployment,
    )
