"""Which text is judged, and what the classifier extracts from it."""

from __future__ import annotations

import math
import time

from pointsman.core.types import ImagePart, ImageURL, Message, TextPart
from pointsman.routing.features import (
    DENSE_NAMES,
    HEAD_CHARS,
    TAIL_CHARS,
    extract,
    key_from_text,
    key_text,
    prompt_text,
)


def test_plain_text_is_judged_as_is() -> None:
    assert prompt_text("What is 2+2?").text == "What is 2+2?"


def test_last_user_message_of_a_conversation_is_judged() -> None:
    messages = [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "first question"},
        {"role": "assistant", "content": "an answer"},
        {
            "role": "user",
            "content": [{"type": "text", "text": "second"}, {"type": "text", "text": "part"}],
        },
        {"role": "assistant", "content": None},
    ]
    judged = prompt_text(messages)
    assert judged.text == "second\npart"
    assert not judged.has_non_text


def test_typed_messages_and_non_text_parts() -> None:
    messages = [
        Message(role="user", content=[TextPart("describe this"), ImagePart(ImageURL("data:x"))])
    ]
    judged = prompt_text(messages)
    assert judged.text == "describe this"
    assert judged.has_non_text


def test_no_user_message_gives_empty_text() -> None:
    assert prompt_text([{"role": "system", "content": "rules"}]).text == ""
    assert prompt_text([]).text == ""


def test_keys_are_unigrams_and_bigrams_of_lowercased_tokens() -> None:
    features = extract("Compute 12.5% of $40, please!")
    assert {"compute", "12", ".", "5", "%", "$", "40", "please"} <= features.keys
    assert {("compute", "12"), ("12", "."), ("of", "$"), ("please", "!")} <= features.keys
    assert len(features.dense) == len(DENSE_NAMES)


def test_dense_features_see_numbers_options_and_length() -> None:
    mcq = "Which is largest?\nA. 3\nB. 17\nC. 250\nD. 4"
    dense = dict(zip(DENSE_NAMES, extract(mcq).dense, strict=True))
    assert dense["option_list"] == 1.0
    assert dense["log_chars"] == math.log1p(len(mcq))
    assert dense["log_distinct_numbers"] == math.log1p(4)
    assert dense["longest_number"] == 3 / 4
    assert dense["log_question_marks"] == math.log1p(1)
    plain = dict(zip(DENSE_NAMES, extract("Tell me a story.").dense, strict=True))
    assert plain["option_list"] == 0.0 and plain["log_numbers"] == 0.0


def test_huge_prompts_cost_is_bounded() -> None:
    huge = "word " * 400_000 + "finally the actual question?"
    started = time.perf_counter()
    features = extract(huge)
    elapsed = time.perf_counter() - started
    dense = dict(zip(DENSE_NAMES, features.dense, strict=True))
    assert dense["log_chars"] == math.log1p(len(huge))  # length counts the whole text
    assert dense["log_tokens"] < math.log1p(HEAD_CHARS + TAIL_CHARS)  # tokens only of both ends
    assert ("question", "?") in features.keys  # the tail is kept
    assert elapsed < 0.05


def test_extraction_is_deterministic() -> None:
    text = "Déjà vu: ¿qué es 3\u00d74? 日本語のテキスト"
    assert extract(text) == extract(text)
    assert "déjà" in extract(text).keys


def test_key_text_round_trip() -> None:
    assert key_text(("a", "b")) == "a b" and key_from_text("a b") == ("a", "b")
    assert key_text("word") == "word" and key_from_text("word") == "word"
