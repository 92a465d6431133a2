"""Feature-hashing embeddings: unit length, deterministic, similar texts close."""

from __future__ import annotations

import base64
import math
import struct

import pytest

from pointsman.simulator.embeddings import cosine, embed, to_base64


@pytest.mark.parametrize("text", ["", "hello", "The cat sat on the mat.", "a a a a", [1, 2, 3]])
def test_unit_length_and_deterministic(text: str | list[int]) -> None:
    vector = embed(text, 64)
    assert len(vector) == 64
    assert math.isclose(math.sqrt(sum(v * v for v in vector)), 1.0)
    assert vector == embed(text, 64)


def test_similarity_ordering() -> None:
    query = embed("how do I reset my password", 256)
    paraphrase = embed("how can I reset my password please", 256)
    related = embed("forgot password for my account", 256)
    unrelated = embed("the quarterly revenue of the bakery grew", 256)
    assert cosine(query, paraphrase) > cosine(query, related) > cosine(query, unrelated)
    assert cosine(query, embed("How do I RESET my password?", 256)) == pytest.approx(1.0)


def test_word_order_matters_through_bigrams() -> None:
    a = embed("dog bites man", 256)
    assert cosine(a, embed("man bites dog", 256)) < cosine(a, embed("dog bites man", 256))


def test_base64_is_little_endian_float32() -> None:
    vector = embed("hello world", 16)
    raw = base64.b64decode(to_base64(vector))
    decoded = struct.unpack("<16f", raw)
    assert decoded == pytest.approx(vector, abs=1e-7)
