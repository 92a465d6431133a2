"""Cached answers in and out: a stream assembled into one completion, a completion replayed
as a stream, and the marks that tell a client its answer came from the cache.

One stored shape serves both kinds of request: a streamed answer is assembled into the
``chat.completion`` it stands for (content and refusals joined, tool-call fragments merged by
index, logprobs concatenated), and a streaming request served from the cache receives that
completion cut into ``chat.completion.chunk`` events: the role, the content in word-sized
pieces, each tool call, the finish reason, and the usage chunk when the client asked for it.

Every served answer gets a fresh ``id`` and ``created`` and its ``usage`` carries
``"pointsman_cache": "hit" | "semantic-hit"``; the token counts are those of the original
call (what the answer took to make), not a charge: a hit costs nothing upstream.
"""

from __future__ import annotations

import re
import time
from collections.abc import AsyncIterator
from typing import Any

import msgspec

from pointsman.core.types import Usage
from pointsman.providers.base import ChatStream

__all__ = ["ReplayStream", "assemble", "replay_payloads", "served_body"]

_encode = msgspec.json.encode
_decode = msgspec.json.decode
_PIECE = re.compile(r"\S+\s*|\s+")
WORDS_PER_CHUNK = 3
PAYLOADS_PER_BATCH = 4


def _usage_json(usage: Usage) -> dict[str, Any]:
    return {
        "prompt_tokens": usage.prompt_tokens,
        "completion_tokens": usage.completion_tokens,
        "total_tokens": usage.total_tokens,
    }


class _Choice:
    __slots__ = ("content", "finish_reason", "logprobs", "refusal", "role", "tools")

    def __init__(self) -> None:
        self.role = "assistant"
        self.content: list[str] = []
        self.refusal: list[str] = []
        self.tools: dict[int, dict[str, Any]] = {}
        self.logprobs: dict[str, list[Any]] | None = None
        self.finish_reason: str | None = None

    def add(self, choice: dict[str, Any]) -> None:
        delta = choice.get("delta") or {}
        self.role = delta.get("role") or self.role
        if delta.get("content"):
            self.content.append(delta["content"])
        if delta.get("refusal"):
            self.refusal.append(delta["refusal"])
        for call in delta.get("tool_calls") or ():
            slot = self.tools.setdefault(
                int(call.get("index", len(self.tools))),
                {"id": "", "type": "function", "function": {"name": "", "arguments": ""}},
            )
            slot["id"] = call.get("id") or slot["id"]
            slot["type"] = call.get("type") or slot["type"]
            function = call.get("function") or {}
            slot["function"]["name"] += function.get("name") or ""
            slot["function"]["arguments"] += function.get("arguments") or ""
        logprobs = choice.get("logprobs")
        if logprobs:
            merged = self.logprobs if self.logprobs is not None else {}
            for part in ("content", "refusal"):
                if logprobs.get(part):
                    merged.setdefault(part, []).extend(logprobs[part])
            self.logprobs = merged
        self.finish_reason = choice.get("finish_reason") or self.finish_reason

    def message(self, index: int) -> dict[str, Any]:
        message: dict[str, Any] = {
            "role": self.role,
            "content": "".join(self.content) if self.content or not self.tools else None,
        }
        if self.refusal:
            message["refusal"] = "".join(self.refusal)
        if self.tools:
            message["tool_calls"] = [self.tools[i] for i in sorted(self.tools)]
        return {
            "index": index,
            "message": message,
            "logprobs": self.logprobs,
            "finish_reason": self.finish_reason,
        }


def assemble(payloads: list[bytes], usage: Usage) -> bytes | None:
    """The ``chat.completion`` a complete stream of chunk payloads stands for.

    Returns None when the payloads do not make a complete answer (unreadable, no choice, or a
    choice without a finish reason): such a stream is never stored.
    """
    head: dict[str, Any] = {}
    choices: dict[int, _Choice] = {}
    try:
        for payload in payloads:
            chunk = _decode(payload)
            if not isinstance(chunk, dict):
                return None
            if not head:
                head = {k: chunk.get(k) for k in ("id", "created", "model", "system_fingerprint")}
            for choice in chunk.get("choices") or ():
                choices.setdefault(int(choice.get("index", 0)), _Choice()).add(choice)
    except (msgspec.DecodeError, TypeError, ValueError, AttributeError):
        return None
    if not choices or any(c.finish_reason is None for c in choices.values()):
        return None
    completion = {
        "id": head.get("id") or "chatcmpl-cached",
        "object": "chat.completion",
        "created": head.get("created") or int(time.time()),
        "model": head.get("model"),
        "choices": [choices[i].message(i) for i in sorted(choices)],
        "usage": _usage_json(usage),
    }
    if head.get("system_fingerprint"):
        completion["system_fingerprint"] = head["system_fingerprint"]
    return _encode(completion)


def _marked(completion: dict[str, Any], request_id: str, kind: str) -> dict[str, Any]:
    completion["id"] = f"chatcmpl-{request_id}"
    completion["created"] = int(time.time())
    usage = completion.get("usage")
    usage = dict(usage) if isinstance(usage, dict) else {}
    usage["pointsman_cache"] = kind
    completion["usage"] = usage
    return completion


def served_body(body: bytes, request_id: str, kind: str) -> bytes:
    """A stored completion as served to one request (fresh id, usage marked as cached)."""
    return _encode(_marked(_decode(body), request_id, kind))


def _pieces(text: str) -> list[str]:
    words = _PIECE.findall(text)
    step = WORDS_PER_CHUNK
    return ["".join(words[i : i + step]) for i in range(0, len(words), step)] or [""]


def _choice_deltas(choice: dict[str, Any]) -> list[dict[str, Any]]:
    """The chunk choices that replay one completion choice, in order."""
    index = choice.get("index", 0)
    message = choice.get("message") or {}
    role = message.get("role") or "assistant"
    deltas: list[dict[str, Any]] = [
        {"index": index, "delta": {"role": role, "content": ""}, "finish_reason": None}
    ]
    content = message.get("content")
    if isinstance(content, str) and content:
        deltas += [
            {"index": index, "delta": {"content": piece}, "finish_reason": None}
            for piece in _pieces(content)
        ]
    if message.get("refusal"):
        deltas.append(
            {"index": index, "delta": {"refusal": message["refusal"]}, "finish_reason": None}
        )
    for position, call in enumerate(message.get("tool_calls") or ()):
        tool_delta = {"tool_calls": [{"index": position, **call}]}
        deltas.append({"index": index, "delta": tool_delta, "finish_reason": None})
    if choice.get("logprobs"):
        deltas[min(1, len(deltas) - 1)]["logprobs"] = choice["logprobs"]
    deltas.append({"index": index, "delta": {}, "finish_reason": choice.get("finish_reason")})
    return deltas


def replay_payloads(body: bytes, request_id: str, kind: str, include_usage: bool) -> list[bytes]:
    """A stored completion as the chunk payloads of a stream (see the module docstring)."""
    completion = _marked(_decode(body), request_id, kind)
    head = {
        "id": completion["id"],
        "object": "chat.completion.chunk",
        "created": completion["created"],
        "model": completion.get("model"),
    }
    if completion.get("system_fingerprint"):
        head["system_fingerprint"] = completion["system_fingerprint"]
    payloads = [
        _encode({**head, "choices": [delta]})
        for choice in completion.get("choices") or ()
        for delta in _choice_deltas(choice)
    ]
    if include_usage:
        payloads.append(_encode({**head, "choices": [], "usage": completion["usage"]}))
    return payloads


class ReplayStream(ChatStream):
    """A cached answer streamed: batches of :data:`PAYLOADS_PER_BATCH` chunk payloads.

    ``usage`` ends as an empty :class:`Usage` and ``finish_reason`` as the stored one: nothing
    was spent upstream, so nothing is charged for it.
    """

    def __init__(self, payloads: list[bytes], finish_reason: str | None) -> None:
        self._payloads = payloads
        self._finish_reason = finish_reason

    async def __aiter__(self) -> AsyncIterator[list[bytes]]:
        payloads = self._payloads
        for start in range(0, len(payloads), PAYLOADS_PER_BATCH):
            yield payloads[start : start + PAYLOADS_PER_BATCH]
        self.usage = Usage()
        self.finish_reason = self._finish_reason

    async def aclose(self) -> None:
        self._payloads = []
