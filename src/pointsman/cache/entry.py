"""A cached answer as the stores keep it, and what a lookup returns."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import msgspec
from msgspec import Struct

__all__ = ["CachedAnswer", "Hit", "decode_answer", "encode_answer"]


class CachedAnswer(Struct, array_like=True, frozen=True):
    """One answer: the OpenAI ``chat.completion`` JSON (a streamed answer is assembled into
    one) with the tokens it took and what it cost when it was made.

    ``cost_micros`` is what each hit saves: the provider cost of the original call, in
    micro-USD, priced when it was stored (0 when the model has no price). ``text`` is the
    semantic key text the answer was filed under (empty when it was not semantic-eligible):
    a semantic candidate is served only after :func:`~pointsman.cache.verify.verify`
    compares it with the new question. Entries written before it existed decode with an
    empty text and so never answer a verified semantic lookup (exact lookups still).
    """

    body: bytes
    prompt_tokens: int
    completion_tokens: int
    cost_micros: int
    deployment: str
    stored_at: float
    text: str = ""

    @property
    def size(self) -> int:
        return len(self.body) + len(self.deployment) + len(self.text) + 48


_encoder = msgspec.msgpack.Encoder()
_decoder = msgspec.msgpack.Decoder(CachedAnswer)


def encode_answer(answer: CachedAnswer) -> bytes:
    return _encoder.encode(answer)


def decode_answer(data: bytes) -> CachedAnswer | None:
    """The answer in ``data``, or None when it cannot be read (written by another version)."""
    try:
        return _decoder.decode(data)
    except (msgspec.DecodeError, msgspec.ValidationError):
        return None


@dataclass(frozen=True, slots=True)
class Hit:
    """A lookup that found an answer: ``kind`` is ``hit`` (exact) or ``semantic-hit``."""

    answer: CachedAnswer
    kind: Literal["hit", "semantic-hit"] = "hit"
    score: float = 1.0

    @property
    def header(self) -> str:
        """The ``x-pointsman-cache`` response header value."""
        return self.kind if self.kind == "hit" else f"semantic-hit ({self.score:.3f})"
