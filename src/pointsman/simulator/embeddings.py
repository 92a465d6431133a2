"""Deterministic embeddings by feature hashing, so that similar texts get similar vectors.

A text is lower-cased and split into words; each word (weight 1.0) and each pair of adjacent
words (weight 0.5) is hashed to one dimension and a sign. The vector is normalised to unit
length, so the cosine similarity of two texts grows with the words and word pairs they share.
An empty text maps to a fixed unit vector. Token-id inputs (lists of ints) are embedded as the
text ``"t<id> t<id> ..."``.
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import math
import re
import sys
from array import array
from collections.abc import Sequence
from functools import lru_cache

__all__ = ["cosine", "embed", "to_base64"]

_WORD = re.compile(r"[\w']+")
_BIGRAM_WEIGHT = 0.5


@lru_cache(maxsize=65536)
def _feature(feature: str, dim: int) -> tuple[int, float]:
    digest = hashlib.blake2b(feature.encode(), digest_size=8).digest()
    value = int.from_bytes(digest, "little")
    return value % dim, (1.0 if value >> 63 else -1.0)


def embed(text: str | Sequence[int], dim: int) -> list[float]:
    """The unit vector of ``dim`` floats for ``text`` (a string or a list of token ids)."""
    if not isinstance(text, str):
        text = " ".join(f"t{token}" for token in text)
    words = _WORD.findall(text.lower())
    vector = [0.0] * dim
    features = [(w, 1.0) for w in words]
    features += [(f"{a} {b}", _BIGRAM_WEIGHT) for a, b in itertools.pairwise(words)]
    if not features:
        features = [("", 1.0)]
    for feature, weight in features:
        index, sign = _feature(feature, dim)
        vector[index] += sign * weight
    norm = math.sqrt(sum(v * v for v in vector))
    if norm == 0:  # every feature cancelled out; fall back to the text's first feature
        index, sign = _feature(features[0][0], dim)
        vector[index], norm = sign, 1.0
    return [v / norm for v in vector]


def to_base64(vector: Sequence[float]) -> str:
    """``vector`` as base64 of little-endian float32 values (OpenAI's ``encoding_format``)."""
    packed = array("f", vector)
    if sys.byteorder == "big":
        packed.byteswap()
    return base64.b64encode(packed.tobytes()).decode("ascii")


def cosine(a: Sequence[float], b: Sequence[float]) -> float:
    """Cosine similarity of two vectors (the dot product, for unit vectors)."""
    dot = sum(x * y for x, y in zip(a, b, strict=True))
    norm = math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b))
    return dot / norm if norm else 0.0
