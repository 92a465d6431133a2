"""Rendering of answers as Gemini ``GenerateContentResponse`` objects and SSE events. Pure.

A stream (``alt=sse``) is ``data: <GenerateContentResponse>`` events: a thought part first
when thinking is on, one event per text token, one event per function call (Gemini sends a
call whole), and a last event with ``finishReason`` and ``usageMetadata``. Candidates of an
``n`` > 1 request are interleaved. Errors are ``{"error": {"code", "message", "status"}}``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import zip_longest
from typing import Any

import msgspec

from pointsman.simulator.answer import Choice
from pointsman.simulator.replies import Reply
from pointsman.simulator.wire.gemini_requests import sign

__all__ = ["FINISH_REASONS", "Answer", "blocked", "error_reply", "response", "stream_events"]

FINISH_REASONS = {
    "stop": "STOP",
    "length": "MAX_TOKENS",
    "tool_calls": "STOP",
    "content_filter": "SAFETY",
}
STATUSES = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    429: "RESOURCE_EXHAUSTED",
    499: "CANCELLED",
    500: "INTERNAL",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}
_encode = msgspec.json.encode


@dataclass(slots=True)
class Answer:
    """One simulated Gemini answer, ready to render."""

    model: str
    rid: str
    choices: Sequence[Choice]
    prompt_tokens: int
    cached_tokens: int
    thinking: list[str]  # thought tokens (per candidate), empty when thinking is off

    def usage(self) -> dict[str, Any]:
        candidates = sum(c.completion_tokens for c in self.choices)
        thoughts = len(self.thinking) * len(self.choices)
        usage = {
            "promptTokenCount": self.prompt_tokens,
            "candidatesTokenCount": candidates,
            "totalTokenCount": self.prompt_tokens + candidates + thoughts,
        }
        if self.cached_tokens:
            usage["cachedContentTokenCount"] = self.cached_tokens
        if thoughts:
            usage["thoughtsTokenCount"] = thoughts
        return usage


def _call_part(choice: Choice, position: int, thinking: bool) -> dict[str, Any]:
    call = choice.tool_calls[position]
    args = msgspec.json.decode(call.arguments)
    part: dict[str, Any] = {"functionCall": {"name": call.name, "args": args}}
    if thinking and position == 0:
        part["thoughtSignature"] = sign(call.name, args)
    return part


def _candidate(index: int, parts: list[dict[str, Any]], finish: str | None) -> dict[str, Any]:
    candidate: dict[str, Any] = {"content": {"parts": parts, "role": "model"}, "index": index}
    if finish is not None:
        candidate["finishReason"] = FINISH_REASONS.get(finish, "STOP")
    return candidate


def _envelope(answer: Answer, candidates: list[dict[str, Any]], usage: bool) -> dict[str, Any]:
    out: dict[str, Any] = {"candidates": candidates}
    if usage:
        out["usageMetadata"] = answer.usage()
    out["modelVersion"] = answer.model
    out["responseId"] = answer.rid
    return out


def response(answer: Answer) -> bytes:
    """The JSON body of a ``generateContent`` answer."""
    candidates = []
    for choice in answer.choices:
        parts: list[dict[str, Any]] = []
        if answer.thinking:
            parts.append({"text": "".join(answer.thinking), "thought": True})
        if choice.tokens:
            parts.append({"text": "".join(choice.tokens)})
        thinking = bool(answer.thinking)
        parts += [_call_part(choice, k, thinking) for k in range(len(choice.tool_calls))]
        candidates.append(_candidate(choice.index, parts, choice.finish_reason))
    return _encode(_envelope(answer, candidates, usage=True))


def _event(payload: dict[str, Any]) -> bytes:
    return b"data: " + _encode(payload) + b"\r\n\r\n"


def _paced(answer: Answer, choice: Choice) -> list[bytes]:
    events = []
    thinking = bool(answer.thinking)
    if thinking:
        thought = [{"text": "".join(answer.thinking), "thought": True}]
        events.append(_event(_envelope(answer, [_candidate(choice.index, thought, None)], False)))
    for token in choice.tokens:
        parts = [{"text": token}]
        events.append(_event(_envelope(answer, [_candidate(choice.index, parts, None)], False)))
    for k in range(len(choice.tool_calls)):
        parts = [_call_part(choice, k, thinking)]
        events.append(_event(_envelope(answer, [_candidate(choice.index, parts, None)], False)))
    return events


def stream_events(answer: Answer) -> tuple[list[bytes], list[bytes], list[bytes]]:
    """(opening events, paced events, closing events) of a streamed answer."""
    per_choice = [_paced(answer, c) for c in answer.choices]
    paced = [e for group in zip_longest(*per_choice) for e in group if e is not None]
    closing = [_candidate(c.index, [{"text": ""}], c.finish_reason) for c in answer.choices]
    return [], paced, [_event(_envelope(answer, closing, usage=True))]


def blocked(answer: Answer) -> bytes:
    """A prompt the safety filter refused: no candidates, ``promptFeedback.blockReason``."""
    rating = {"category": "HARM_CATEGORY_DANGEROUS_CONTENT", "probability": "HIGH"}
    tokens = answer.prompt_tokens
    payload = {
        "promptFeedback": {"blockReason": "SAFETY", "safetyRatings": [rating]},
        "usageMetadata": {"promptTokenCount": tokens, "totalTokenCount": tokens},
        "modelVersion": answer.model,
        "responseId": answer.rid,
    }
    return _encode(payload)


def error_reply(status: int, message: str, reason: str | None = None) -> Reply:
    """An error in Gemini's shape; ``reason`` adds an ``ErrorInfo`` detail."""
    error: dict[str, Any] = {"code": status, "message": message}
    error["status"] = STATUSES.get(status, "INTERNAL" if status >= 500 else "FAILED_PRECONDITION")
    if reason is not None:
        info = {"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": reason}
        error["details"] = [{**info, "domain": "googleapis.com"}]
    return Reply(status, _encode({"error": error}))
