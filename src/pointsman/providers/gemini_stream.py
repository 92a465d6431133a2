"""Gemini ``streamGenerateContent?alt=sse`` events → canonical chunk payloads. Pure: no I/O.

Each event is a whole ``GenerateContentResponse`` holding the next parts of each candidate.
Text parts become ``content`` deltas, ``thought`` parts ``reasoning_content`` deltas; a
``functionCall`` part arrives complete and becomes one ``tool_calls`` delta carrying the id,
name and all arguments (numbered per candidate in order of appearance); the first signed call
also brings the ``gemini:``-tagged ``thinking_blocks`` entry (see :mod:`.gemini_response`).
A ``finishReason`` closes its candidate; ``usageMetadata`` (cumulative) gives the usage.
Gemini has no end marker: the stream is complete when the body ends after every started
candidate finished.
An event ``{"error": {...}}`` becomes a typed error; a blocked prompt a
:class:`~pointsman.errors.ContentFilteredError`.
"""

from __future__ import annotations

from typing import Any

from pointsman.errors import UpstreamUnavailableError
from pointsman.providers.gemini_response import (
    blocked,
    decode_response,
    error_from_body,
    finish_reason,
    read_error,
    signature_of,
    thinking_block,
    tool_call,
)
from pointsman.providers.translated import ChunkWriter, StreamTranslator

__all__ = ["GeminiStreamTranslator"]


class GeminiStreamTranslator(StreamTranslator):
    """One Gemini stream's state: per-candidate tool-call numbering and finish."""

    def __init__(
        self,
        rid: str,
        created: int,
        model: str,
        deployment: str,
        *,
        include_usage: bool,
        secret: str | None = None,
    ) -> None:
        self._rid = rid
        self._writer = ChunkWriter(rid, created, model)
        self._deployment = deployment
        self._include_usage = include_usage
        self._secret = secret
        self._calls: dict[int, int] = {}  # candidate index → tool calls so far
        self._open: set[int] = set()  # candidates that produced output and have not finished
        self._finished: set[int] = set()
        self._emitted: set[int] = set()
        self._thoughts: dict[int, str] = {}  # thought text so far, per candidate
        self._signed: set[int] = set()  # candidates whose signature was sent as a block

    def feed(self, event: bytes, data: bytes) -> list[bytes]:
        if data.startswith(b'{"error"') or event == b"error":
            error = read_error(data)
            status = error.code if error is not None and error.code else 500
            raise error_from_body(status, data, {}, self._deployment, self._secret)
        response = decode_response(data, self._deployment)
        if response.usage_metadata is not None:
            self.usage = response.usage_metadata.to_usage()
        feedback = response.prompt_feedback
        if feedback is not None and feedback.block_reason and not response.candidates:
            raise blocked(feedback.block_reason, self._deployment)
        out: list[bytes] = []
        for candidate in response.candidates:
            index = candidate.index
            for part in candidate.content.parts if candidate.content else ():
                delta = self._delta(index, part)
                if delta is not None:
                    self._open.add(index)
                    self._emitted.add(index)
                    out.append(self._writer.delta(delta, index))
            finish = finish_reason(candidate.finish_reason, bool(self._calls.get(index)))
            if finish is not None and index not in self._finished:
                if finish == "content_filter" and index not in self._emitted:
                    raise blocked(candidate.finish_reason or "SAFETY", self._deployment)
                self._finished.add(index)
                self._open.discard(index)
                self.finish_reason = self.finish_reason or finish
                out.append(self._writer.finish(finish, index))
        return out

    def _delta(self, index: int, part: dict[str, Any]) -> dict[str, Any] | None:
        if "functionCall" in part:
            number = self._calls.get(index, 0)
            self._calls[index] = number + 1
            call = tool_call(part, f"call_{self._rid}_{index}_{number}")
            delta: dict[str, Any] = {"content": None, "tool_calls": [{"index": number, **call}]}
            signature = signature_of(call)
            if signature is not None and index not in self._signed:
                self._signed.add(index)
                thoughts = self._thoughts.get(index, "")
                delta["thinking_blocks"] = [thinking_block(thoughts, signature)]
            return delta
        text = part.get("text")
        if not text:
            return None
        if part.get("thought"):
            self._thoughts[index] = self._thoughts.get(index, "") + text
            return {"reasoning_content": text}
        return {"content": text}

    def end(self) -> list[bytes]:
        if self._open or not self._finished:
            raise UpstreamUnavailableError(
                f"{self._deployment}: stream ended before it was complete",
                deployment=self._deployment,
            )
        self.done = True
        if self._include_usage and self.usage is not None:
            return [self._writer.usage(self.usage)]
        return []
