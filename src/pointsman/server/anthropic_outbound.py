"""Canonical answers → Anthropic Messages answers: a ``message`` object, or streaming events.

``finish_reason`` → ``stop_reason``: ``stop`` → ``end_turn`` (``stop_sequence``, naming it,
when the choice's ``stop_reason`` is one of the request's stop sequences), ``length`` →
``max_tokens``, ``tool_calls`` → ``tool_use``, ``content_filter`` → ``refusal``. Usage goes
back to Anthropic's split: ``input_tokens`` excludes cache reads and writes.

Content: ``thinking_blocks`` (verbatim, signatures intact) or else ``reasoning_content`` as a
thinking block, then the text, then one ``tool_use`` block per tool call. Streaming
(:class:`AnthropicFramer`): ``message_start`` (input tokens estimated; the final counts come
in ``message_delta``), then per block ``content_block_start`` / deltas (``thinking_delta``
and ``signature_delta``, ``text_delta``, ``input_json_delta``) / ``content_block_stop``, a
block closing when the next kind of content begins, then ``message_delta`` and
``message_stop``; a failure mid-stream is an ``event: error``.
"""

from __future__ import annotations

from typing import Any

import msgspec
from msgspec import Struct

from pointsman.core.types import Usage
from pointsman.errors import PointsmanError, UpstreamProtocolError
from pointsman.providers.base import ChatStream
from pointsman.server.errors import anthropic_error_body

__all__ = ["AnthropicFramer", "to_message", "usage_json"]

STOP_REASONS = {
    "stop": "end_turn",
    "length": "max_tokens",
    "tool_calls": "tool_use",
    "function_call": "tool_use",
    "content_filter": "refusal",
}
_encode = msgspec.json.encode
_decode = msgspec.json.decode


def usage_json(usage: Usage | None) -> dict[str, Any]:
    usage = usage or Usage()
    cached, written = usage.cached_tokens, usage.cache_write_tokens
    out: dict[str, Any] = {
        "input_tokens": max(0, usage.prompt_tokens - cached - written),
        "cache_creation_input_tokens": written,
        "cache_read_input_tokens": cached,
        "output_tokens": usage.completion_tokens,
    }
    if usage.reasoning_tokens:
        out["output_tokens_details"] = {"thinking_tokens": usage.reasoning_tokens}
    return out


def _stop(finish: str | None, matched: object, stops: list[str]) -> tuple[str, str | None]:
    if finish == "stop" and isinstance(matched, str) and matched in stops:
        return "stop_sequence", matched
    return STOP_REASONS.get(finish or "stop", "end_turn"), None


def _tool_input(arguments: str) -> dict[str, Any]:
    try:
        value = _decode(arguments or "{}")
    except msgspec.DecodeError:
        value = None
    # A model that wrote broken JSON: keep its text rather than lose the call.
    return value if isinstance(value, dict) else {"_raw_arguments": arguments}


class _Function(Struct):
    name: str | None = None
    arguments: str | None = None


class _ToolCall(Struct):
    index: int = 0
    id: str | None = None
    function: _Function | None = None


class _Message(Struct):
    content: str | None = None
    reasoning_content: str | None = None
    reasoning: str | None = None  # vLLM's newer spelling
    thinking_blocks: list[dict[str, Any]] | None = None
    tool_calls: list[_ToolCall] | None = None

    @property
    def thoughts(self) -> str | None:
        return self.reasoning_content or self.reasoning


class _Choice(Struct):
    message: _Message | None = None
    delta: _Message | None = None
    finish_reason: str | None = None
    stop_reason: str | int | None = None


class _Answer(Struct):
    id: str = ""
    model: str = ""
    choices: list[_Choice] = []


_answer_decoder = msgspec.json.Decoder(_Answer)


def to_message(raw: bytes, usage: Usage | None, stops: list[str]) -> bytes:
    """A canonical ``chat.completion`` → the Anthropic ``message`` JSON body."""
    try:
        answer = _answer_decoder.decode(raw)
    except (msgspec.DecodeError, msgspec.ValidationError):
        raise UpstreamProtocolError("malformed answer from upstream") from None
    choice = answer.choices[0] if answer.choices else _Choice()
    message = choice.message or _Message()
    content: list[dict[str, Any]] = list(message.thinking_blocks or ())
    if not content and message.thoughts:
        content.append({"type": "thinking", "thinking": message.thoughts, "signature": ""})
    if message.content:
        content.append({"type": "text", "text": message.content})
    for call in message.tool_calls or ():
        function = call.function or _Function()
        block: dict[str, Any] = {"type": "tool_use", "id": call.id or ""}
        block["name"] = function.name or ""
        block["input"] = _tool_input(function.arguments or "")
        content.append(block)
    stop_reason, stop_sequence = _stop(choice.finish_reason, choice.stop_reason, stops)
    return _encode(
        {
            "id": "msg_" + answer.id.removeprefix("chatcmpl-"),
            "type": "message",
            "role": "assistant",
            "model": answer.model,
            "content": content,
            "stop_reason": stop_reason,
            "stop_sequence": stop_sequence,
            "usage": usage_json(usage),
        }
    )


def _event(name: bytes, payload: dict[str, Any]) -> bytes:
    return b"event: " + name + b"\ndata: " + _encode(payload) + b"\n\n"


class AnthropicFramer:
    """Canonical chunks → Anthropic streaming events, for one answer (choice 0).

    Implements :class:`~pointsman.server.relay.Framer`. Blocks are numbered in the order they
    open; a tool call's argument pieces always go to its own block, even should an upstream
    interleave them with another call's.
    """

    def __init__(self, rid: str, input_estimate: int, stops: list[str]) -> None:
        self._rid = rid
        self._input_estimate = input_estimate
        self._stops = stops
        self._started = False
        self._blocks = 0  # blocks opened so far
        self._current: tuple[str, int] | None = None  # (kind, index) of the open block
        self._tools: dict[int, int] = {}  # canonical tool-call index → block index
        self._finish: str | None = None
        self._matched: str | int | None = None

    def batch(self, payloads: list[bytes]) -> bytes:
        out: list[bytes] = []
        for payload in payloads:
            try:
                answer = _answer_decoder.decode(payload)
            except (msgspec.DecodeError, msgspec.ValidationError):
                continue  # canonical chunks come from our adapters; skip what is not one
            if not self._started:
                out.append(self._message_start(answer.model))
            for choice in answer.choices[:1]:
                if choice.delta is not None:
                    self._delta(choice.delta, out)
                if choice.finish_reason:
                    self._finish, self._matched = choice.finish_reason, choice.stop_reason
        return b"".join(out)

    def end(self, stream: ChatStream) -> bytes:
        out: list[bytes] = []
        if not self._started:
            out.append(self._message_start(""))
        self._close(out)
        finish = self._finish or stream.finish_reason
        stop_reason, stop_sequence = _stop(finish, self._matched, self._stops)
        delta = {"stop_reason": stop_reason, "stop_sequence": stop_sequence}
        message_delta = {"type": "message_delta", "delta": delta}
        message_delta["usage"] = usage_json(stream.usage)
        out.append(_event(b"message_delta", message_delta))
        out.append(_event(b"message_stop", {"type": "message_stop"}))
        return b"".join(out)

    def error(self, error: PointsmanError) -> bytes:
        return b"event: error\ndata: " + anthropic_error_body(error) + b"\n\n"

    # -- blocks ------------------------------------------------------------------------------

    def _message_start(self, model: str) -> bytes:
        self._started = True
        usage = {"input_tokens": self._input_estimate, "output_tokens": 0}
        message: dict[str, Any] = {
            "id": self._rid,
            "type": "message",
            "role": "assistant",
            "model": model,
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": usage,
        }
        return _event(b"message_start", {"type": "message_start", "message": message})

    def _open(self, kind: str, block: dict[str, Any], out: list[bytes]) -> int:
        self._close(out)
        index = self._blocks
        self._blocks += 1
        self._current = (kind, index)
        payload = {"type": "content_block_start", "index": index, "content_block": block}
        out.append(_event(b"content_block_start", payload))
        return index

    def _close(self, out: list[bytes]) -> None:
        if self._current is not None:
            payload = {"type": "content_block_stop", "index": self._current[1]}
            out.append(_event(b"content_block_stop", payload))
            self._current = None

    def _emit(self, index: int, delta: dict[str, Any], out: list[bytes]) -> None:
        payload = {"type": "content_block_delta", "index": index, "delta": delta}
        out.append(_event(b"content_block_delta", payload))

    def _in(self, kind: str, block: dict[str, Any], out: list[bytes]) -> int:
        """The index of the open block of ``kind``, opening one when needed."""
        if self._current is not None and self._current[0] == kind:
            return self._current[1]
        return self._open(kind, block, out)

    def _delta(self, delta: _Message, out: list[bytes]) -> None:
        thoughts = delta.thoughts
        if thoughts:
            index = self._in("thinking", {"type": "thinking", "thinking": "", "signature": ""}, out)
            self._emit(index, {"type": "thinking_delta", "thinking": thoughts}, out)
        for block in delta.thinking_blocks or ():
            self._thinking_block(block, out)
        if delta.content:
            index = self._in("text", {"type": "text", "text": ""}, out)
            self._emit(index, {"type": "text_delta", "text": delta.content}, out)
        for call in delta.tool_calls or ():
            self._tool_call(call, out)

    def _thinking_block(self, block: dict[str, Any], out: list[bytes]) -> None:
        """A complete reasoning block: signs the one just streamed, or sends it whole."""
        if block.get("type") == "thinking":
            streamed = self._current is not None and self._current[0] == "thinking"
            opening = {"type": "thinking", "thinking": "", "signature": ""}
            index = (
                self._current[1]
                if streamed and self._current
                else self._open("thinking", opening, out)
            )
            if not streamed and block.get("thinking"):
                self._emit(index, {"type": "thinking_delta", "thinking": block["thinking"]}, out)
            signature = str(block.get("signature") or "")
            self._emit(index, {"type": "signature_delta", "signature": signature}, out)
            self._close(out)
        elif block.get("type") == "redacted_thinking":
            self._open("redacted", {"type": "redacted_thinking", "data": block.get("data")}, out)
            self._close(out)

    def _tool_call(self, call: _ToolCall, out: list[bytes]) -> None:
        function = call.function or _Function()
        index = self._tools.get(call.index)
        if index is None:
            block: dict[str, Any] = {"type": "tool_use", "id": call.id or ""}
            block["name"], block["input"] = function.name or "", {}
            index = self._tools[call.index] = self._open(f"tool{call.index}", block, out)
        if function.arguments:
            delta = {"type": "input_json_delta", "partial_json": function.arguments}
            self._emit(index, delta, out)
