"""Rendering of answers as Anthropic ``message`` objects and Messages streaming events. Pure.

Streams follow Anthropic's event flow: ``message_start`` (empty content, input usage) and a
``ping``; per content block ``content_block_start``, deltas (``thinking_delta`` then one
``signature_delta``; ``text_delta`` per token; for ``tool_use`` an empty ``input_json_delta``
then one per argument piece) and ``content_block_stop``; then ``message_delta`` (stop reason,
stop sequence, cumulative usage) and ``message_stop``. Errors are
``{"type": "error", "error": {"type", "message"}, "request_id"}``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import msgspec

from pointsman.simulator.answer import Choice
from pointsman.simulator.replies import Reply
from pointsman.simulator.wire.anthropic_requests import sign

__all__ = ["STOP_REASONS", "Answer", "error_reply", "message", "stream_events"]

STOP_REASONS = {
    "stop": "end_turn",
    "length": "max_tokens",
    "tool_calls": "tool_use",
    "content_filter": "refusal",
}
ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "billing_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    503: "overloaded_error",
    504: "timeout_error",
    529: "overloaded_error",
}
_encode = msgspec.json.encode


@dataclass(slots=True)
class Answer:
    """One simulated Anthropic answer, ready to render."""

    rid: str
    model: str
    choice: Choice
    prompt_tokens: int
    cached_tokens: int
    thinking: list[str]  # thinking tokens, empty when thinking is off
    stop_sequence: str | None = None

    @property
    def output_tokens(self) -> int:
        return self.choice.completion_tokens + len(self.thinking)

    def usage(self, output_tokens: int) -> dict[str, Any]:
        usage: dict[str, Any] = {
            "input_tokens": self.prompt_tokens - self.cached_tokens,
            "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": self.cached_tokens,
            "output_tokens": output_tokens,
        }
        if self.thinking:
            usage["output_tokens_details"] = {"thinking_tokens": len(self.thinking)}
        return usage

    @property
    def stop_reason(self) -> str:
        if self.stop_sequence is not None:
            return "stop_sequence"
        return STOP_REASONS.get(self.choice.finish_reason, "end_turn")


def _tool_id(call_id: str) -> str:
    return "toolu_" + call_id.removeprefix("call_")


def _blocks(answer: Answer) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = []
    if answer.thinking:
        text = "".join(answer.thinking)
        blocks.append({"type": "thinking", "thinking": text, "signature": sign(text)})
    if answer.choice.tokens:
        blocks.append({"type": "text", "text": "".join(answer.choice.tokens)})
    for call in answer.choice.tool_calls:
        block = {"type": "tool_use", "id": _tool_id(call.id), "name": call.name}
        block["input"] = msgspec.json.decode(call.arguments)
        blocks.append(block)
    return blocks


def message(answer: Answer) -> bytes:
    """The JSON body of a non-streaming answer."""
    return _encode(
        {
            "id": answer.rid,
            "type": "message",
            "role": "assistant",
            "model": answer.model,
            "content": _blocks(answer),
            "stop_reason": answer.stop_reason,
            "stop_sequence": answer.stop_sequence,
            "usage": answer.usage(answer.output_tokens),
        }
    )


def _event(name: str, payload: dict[str, Any]) -> bytes:
    return b"event: " + name.encode() + b"\ndata: " + _encode(payload) + b"\n\n"


def _delta(index: int, delta: dict[str, Any]) -> bytes:
    payload = {"type": "content_block_delta", "index": index, "delta": delta}
    return _event("content_block_delta", payload)


def _block_events(answer: Answer) -> list[bytes]:
    events: list[bytes] = []
    index = 0

    def start(block: dict[str, Any]) -> None:
        payload = {"type": "content_block_start", "index": index, "content_block": block}
        events.append(_event("content_block_start", payload))

    def stop() -> None:
        payload = {"type": "content_block_stop", "index": index}
        events.append(_event("content_block_stop", payload))

    if answer.thinking:
        start({"type": "thinking", "thinking": "", "signature": ""})
        for piece in answer.thinking:
            events.append(_delta(index, {"type": "thinking_delta", "thinking": piece}))
        signature = sign("".join(answer.thinking))
        events.append(_delta(index, {"type": "signature_delta", "signature": signature}))
        stop()
        index += 1
    if answer.choice.tokens:
        start({"type": "text", "text": ""})
        for token in answer.choice.tokens:
            events.append(_delta(index, {"type": "text_delta", "text": token}))
        stop()
        index += 1
    for call in answer.choice.tool_calls:
        start({"type": "tool_use", "id": _tool_id(call.id), "name": call.name, "input": {}})
        for piece in ["", *call.pieces]:
            events.append(_delta(index, {"type": "input_json_delta", "partial_json": piece}))
        stop()
        index += 1
    return events


def stream_events(answer: Answer) -> tuple[list[bytes], list[bytes], list[bytes]]:
    """(opening events, paced events, closing events) of a streamed answer."""
    opening: dict[str, Any] = {
        "id": answer.rid,
        "type": "message",
        "role": "assistant",
        "model": answer.model,
        "content": [],
        "stop_reason": None,
        "stop_sequence": None,
        "usage": answer.usage(1),
    }
    head = [
        _event("message_start", {"type": "message_start", "message": opening}),
        _event("ping", {"type": "ping"}),
    ]
    delta = {"stop_reason": answer.stop_reason, "stop_sequence": answer.stop_sequence}
    usage = {"output_tokens": answer.output_tokens}
    tail = [
        _event("message_delta", {"type": "message_delta", "delta": delta, "usage": usage}),
        _event("message_stop", {"type": "message_stop"}),
    ]
    return head, _block_events(answer), tail


def error_reply(status: int, message: str, request_id: str = "req_sim") -> Reply:
    """An error in Anthropic's shape, with the error type Anthropic uses for ``status``."""
    kind = ERROR_TYPES.get(status, "api_error" if status >= 500 else "invalid_request_error")
    body = {"type": "error", "error": {"type": kind, "message": message}}
    body["request_id"] = request_id
    return Reply(status, _encode(body))
