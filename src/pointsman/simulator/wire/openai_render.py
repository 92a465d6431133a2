"""Rendering of answers as OpenAI ``chat.completion`` objects and ``chat.completion.chunk``
server-sent events. Pure: bytes out, no I/O.

Streams follow OpenAI's order: one opening chunk per choice (``role``), then one chunk per
token or tool-argument piece (choices interleaved), then one closing chunk per choice with
``finish_reason`` and an empty delta, then, with ``include_usage``, a chunk with
``choices: []`` and ``usage`` (every earlier chunk then carries ``usage: null``), then
``data: [DONE]``.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import zip_longest
from typing import Any

import msgspec

from pointsman.simulator.answer import Choice, ToolCall
from pointsman.simulator.text import TokenLogprob

__all__ = ["FINGERPRINT", "completion", "stream_events"]

FINGERPRINT = "pointsman-simulated"
DONE = b"data: [DONE]\n\n"
_encode = msgspec.json.encode


def _usage(prompt_tokens: int, completion_tokens: int) -> dict[str, int]:
    return {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
    }


def _logprob_entry(item: TokenLogprob) -> dict[str, Any]:
    return {
        "token": item.token,
        "logprob": item.logprob,
        "bytes": list(item.token.encode()),
        "top_logprobs": [
            {"token": token, "logprob": logprob, "bytes": list(token.encode())}
            for token, logprob in item.top
        ],
    }


def _tool_call(call: ToolCall) -> dict[str, Any]:
    return {
        "id": call.id,
        "type": "function",
        "function": {"name": call.name, "arguments": call.arguments},
    }


def completion(
    rid: str,
    created: int,
    model: str,
    choices: Sequence[Choice],
    prompt_tokens: int,
    completion_tokens: int,
) -> bytes:
    """The JSON body of a non-streaming ``chat.completion``."""
    if len(choices) == 1 and not choices[0].tool_calls and choices[0].logprobs is None:
        return _plain_completion(rid, created, model, choices[0], prompt_tokens, completion_tokens)
    rendered = []
    for choice in choices:
        message: dict[str, Any] = {
            "role": "assistant",
            "content": choice.content,
            "refusal": None,
        }
        if choice.tool_calls:
            message["tool_calls"] = [_tool_call(call) for call in choice.tool_calls]
        logprobs = None
        if choice.logprobs is not None:
            logprobs = {"content": [_logprob_entry(i) for i in choice.logprobs], "refusal": None}
        rendered.append(
            {
                "index": choice.index,
                "message": message,
                "logprobs": logprobs,
                "finish_reason": choice.finish_reason,
            }
        )
    return _encode(
        {
            "id": rid,
            "object": "chat.completion",
            "created": created,
            "model": model,
            "system_fingerprint": FINGERPRINT,
            "choices": rendered,
            "usage": _usage(prompt_tokens, completion_tokens),
        }
    )


_PLAIN = (
    b'{"id":"%s","object":"chat.completion","created":%d,"model":%s,'
    b'"system_fingerprint":"' + FINGERPRINT.encode() + b'","choices":[{"index":0,'
    b'"message":{"role":"assistant","content":%s,"refusal":null},"logprobs":null,'
    b'"finish_reason":"%s"}],"usage":{"prompt_tokens":%d,"completion_tokens":%d,'
    b'"total_tokens":%d}}'
)


def _plain_completion(
    rid: str, created: int, model: str, choice: Choice, prompt_tokens: int, completion_tokens: int
) -> bytes:
    """The common case (one text choice, no logprobs) from a template: same bytes as the
    general path, at a third of the cost. This is the simulator's hottest function."""
    return _PLAIN % (
        rid.encode(),
        created,
        _encode(model),
        _encode(choice.content),
        choice.finish_reason.encode(),
        prompt_tokens,
        completion_tokens,
        prompt_tokens + completion_tokens,
    )


class _Framer:
    """Frames choice deltas as SSE chunk events sharing one pre-encoded envelope."""

    def __init__(self, rid: str, created: int, model: str, include_usage: bool) -> None:
        envelope = _encode(
            {
                "id": rid,
                "object": "chat.completion.chunk",
                "created": created,
                "model": model,
                "system_fingerprint": FINGERPRINT,
            }
        )
        self._prefix = b"data: " + envelope[:-1] + b',"choices":['
        self._suffix = b'],"usage":null}\n\n' if include_usage else b"]}\n\n"

    def event(
        self,
        index: int,
        delta: dict[str, Any],
        finish: str | None = None,
        logprobs: TokenLogprob | None = None,
    ) -> bytes:
        rendered_logprobs = (
            None if logprobs is None else {"content": [_logprob_entry(logprobs)], "refusal": None}
        )
        choice = {
            "index": index,
            "delta": delta,
            "logprobs": rendered_logprobs,
            "finish_reason": finish,
        }
        return self._prefix + _encode(choice) + self._suffix


def _paced_events(framer: _Framer, choice: Choice) -> list[bytes]:
    """One event per text token or tool-argument piece of ``choice``."""
    events: list[bytes] = []
    i = choice.index
    for position, call in enumerate(choice.tool_calls):
        opening = {"index": position, "id": call.id, "type": "function"}
        opening["function"] = {"name": call.name, "arguments": ""}
        events.append(framer.event(i, {"tool_calls": [opening]}))
        for piece in call.pieces:
            delta = {"tool_calls": [{"index": position, "function": {"arguments": piece}}]}
            events.append(framer.event(i, delta))
    logprobs: Sequence[TokenLogprob | None] = choice.logprobs or [None] * len(choice.tokens)
    for token, logprob in zip(choice.tokens, logprobs, strict=True):
        events.append(framer.event(i, {"content": token}, logprobs=logprob))
    return events


def stream_events(
    rid: str,
    created: int,
    model: str,
    choices: Sequence[Choice],
    prompt_tokens: int,
    completion_tokens: int,
    include_usage: bool,
) -> tuple[list[bytes], list[bytes], list[bytes]]:
    """The SSE events of a streamed answer: (opening events, paced events, closing events).

    The paced events carry the tokens; the closing events end with ``data: [DONE]``.
    """
    framer = _Framer(rid, created, model, include_usage)
    head = [
        framer.event(
            c.index,
            {"role": "assistant", "content": None if c.content is None else "", "refusal": None},
        )
        for c in choices
    ]
    per_choice = [_paced_events(framer, c) for c in choices]
    paced = [e for group in zip_longest(*per_choice) for e in group if e is not None]
    tail = [framer.event(c.index, {}, finish=c.finish_reason) for c in choices]
    if include_usage:
        usage = {
            "id": rid,
            "object": "chat.completion.chunk",
            "created": created,
            "model": model,
            "system_fingerprint": FINGERPRINT,
            "choices": [],
            "usage": _usage(prompt_tokens, completion_tokens),
        }
        tail.append(b"data: " + _encode(usage) + b"\n\n")
    tail.append(DONE)
    return head, paced, tail
