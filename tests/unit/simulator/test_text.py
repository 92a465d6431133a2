"""Deterministic words, pieces, logprobs and truncation."""

from __future__ import annotations

import pytest

from pointsman.simulator import text


def test_word_tokens_are_deterministic_and_key_dependent() -> None:
    first = text.word_tokens(b"key-a", 48)
    assert first == text.word_tokens(b"key-a", 48)
    assert first != text.word_tokens(b"key-b", 48)
    assert len(first) == 48
    assert not first[0].startswith(" ") and first[0][0].isupper()
    assert all(token.startswith(" ") for token in first[1:])
    assert first[-1].endswith(".")
    words = {token.strip(" .,").lower() for token in first}
    assert words <= set(text.VOCABULARY)


def test_vocabulary_is_256_distinct_words() -> None:
    assert len(text.VOCABULARY) == len(set(text.VOCABULARY)) == 256


@pytest.mark.parametrize("source", ["", "a", '{"city": "Oslo", "unit": "celsius"}', "x" * 100])
def test_pieces_join_back_and_have_bounded_sizes(source: str) -> None:
    cut = text.pieces(source, b"k")
    assert "".join(cut) == source
    assert all(3 <= len(piece) <= 8 for piece in cut[:-1])
    assert cut == text.pieces(source, b"k")


def test_text_tokens_keep_whitespace() -> None:
    assert text.text_tokens("The tool  said: hi") == ["The", " tool", "  said:", " hi"]


def test_logprobs_ranges_and_top_alternatives() -> None:
    tokens = text.word_tokens(b"k", 40)
    easy = text.token_logprobs(b"k", tokens, hard=False, top=3)
    hard = text.token_logprobs(b"k", tokens, hard=True, top=3)
    assert [item.token for item in easy] == list(tokens)
    assert all(-0.45 <= item.logprob <= 0 for item in easy)
    assert all(-3 < item.logprob <= -0.7 for item in hard)
    for item in easy + hard:
        assert len(item.top) == 3
        assert [lp for _, lp in item.top] == sorted((lp for _, lp in item.top), reverse=True)
    assert text.token_logprobs(b"k", tokens, hard=False, top=0)[0].top == ()


def test_is_hard_matches_the_word_only() -> None:
    assert text.is_hard("This is HARD.")
    assert not text.is_hard("hardware and orchards")


TOKENS = ["One", " two", " three", " four", " five."]


@pytest.mark.parametrize(
    ("max_tokens", "stops", "kept", "finish"),
    [
        (None, [], TOKENS, None),
        (10, [], TOKENS, None),
        (2, [], ["One", " two"], "length"),
        (None, [" three"], ["One", " two"], "stop"),
        (None, ["hr"], ["One", " two", " t"], "stop"),  # cut inside a token
        (None, ["One"], [], "stop"),
        (None, ["zzz", "four"], ["One", " two", " three", " "], "stop"),
        (4, ["five"], ["One", " two", " three", " four"], "length"),  # stop beyond the cut
        (3, ["two"], ["One", " "], "stop"),  # a stop inside the kept text wins
    ],
)
def test_truncate(
    max_tokens: int | None, stops: list[str], kept: list[str], finish: str | None
) -> None:
    assert text.truncate(TOKENS, max_tokens, stops) == (kept, finish)
