"""Exact keys, semantic filing, scopes and request controls."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from pointsman.cache.controls import Controls
from pointsman.cache.keys import cacheable, exact_key, file_request, scope_of, semantic_text
from pointsman.core.pipeline import Caller
from pointsman.core.types import ChatRequest


def chat(**fields: Any) -> tuple[ChatRequest, dict[str, Any]]:
    body = {"model": "fast", "messages": [{"role": "user", "content": "What is 2+2?"}]}
    body.update(fields)
    return msgspec.convert(body, ChatRequest), body


def test_key_ignores_stream_user_metadata_and_number_spelling() -> None:
    _, base = chat(temperature=0)
    _, other = chat(temperature=0.0, stream=True, user="u1", metadata={"feature": "x"})
    assert exact_key("fast", base) == exact_key("fast", other)


@pytest.mark.parametrize(
    "change",
    [
        {"temperature": 0.5},
        {"top_p": 0.5},
        {"seed": 3},
        {"max_tokens": 5},
        {"stop": ["\n"]},
        {"n": 2},
        {"logprobs": True},
        {"tools": [{"type": "function", "function": {"name": "f"}}]},
        {"tool_choice": "none"},
        {"response_format": {"type": "json_object"}},
        {"messages": [{"role": "user", "content": "What is 2+3?"}]},
        {"some_upstream_extension": 1},
    ],
)
def test_every_answer_changing_field_changes_the_key(change: dict[str, Any]) -> None:
    _, base = chat(temperature=0)
    _, changed = chat(**{"temperature": 0, **change})
    assert exact_key("fast", base) != exact_key("fast", changed)


def test_key_depends_on_the_alias_served() -> None:
    _, body = chat(temperature=0)
    assert exact_key("fast", body) != exact_key("smart", body)


def test_policy() -> None:
    assert cacheable(chat(temperature=0)[0], "deterministic")
    assert cacheable(chat(temperature=0.7, seed=1)[0], "deterministic")
    assert not cacheable(chat()[0], "deterministic")
    assert not cacheable(chat(temperature=0.7)[0], "deterministic")
    assert cacheable(chat(temperature=0.7)[0], "always")
    assert not cacheable(chat(temperature=0)[0], "never")


def test_scopes_never_mix_orgs_keys_or_the_master_key() -> None:
    a = Caller("k1", "a", org_id="o1", user_id="alice")
    b = Caller("k2", "b", org_id="o2")
    master = Caller("master", "master key", admin=True)
    assert scope_of(a, "org") == "org:o1" != scope_of(b, "org") == "org:o2"
    assert scope_of(master, "org") == "~master"
    assert scope_of(a, "key") == "org:o1/key:k1"
    assert scope_of(a, "user") == "org:o1/key:k1/user:alice"
    assert scope_of(Caller("k3", "c", org_id="o1"), "user", "bob").endswith("user:bob")


def test_semantic_text_single_turn_only_by_default() -> None:
    single, _ = chat(
        messages=[
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "How do I learn Python?"},
        ]
    )
    assert semantic_text(single, "last_user", False) == "How do I learn Python?"
    assert semantic_text(single, "full_context", False) == (
        "system: Be brief.\nuser: How do I learn Python?"
    )
    turns, _ = chat(
        messages=[
            {"role": "user", "content": "Hi"},
            {"role": "assistant", "content": "Hello"},
            {"role": "user", "content": "How do I learn Python?"},
        ]
    )
    assert semantic_text(turns, "last_user", False) is None
    assert semantic_text(turns, "last_user", True) == "How do I learn Python?"
    image, _ = chat(
        messages=[{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "x"}}]}]
    )
    assert semantic_text(image, "last_user", False) is None


def test_semantic_partition_ignores_the_wording_but_not_the_rest() -> None:
    def filing(text: str, **fields: Any) -> Any:
        request, body = chat(temperature=0, messages=[{"role": "user", "content": text}], **fields)
        return file_request(
            "org:o1",
            "fast",
            request,
            body,
            semantic=True,
            mode="last_user",
            multi_turn=False,
            max_chars=100,
        )

    one, two = filing("How to learn Python?"), filing("How can I learn Python?")
    assert one.key != two.key and one.partition == two.partition
    assert filing("How to learn Python?", max_tokens=9).partition != one.partition
    assert one.text == "How to learn Python?"


def test_controls() -> None:
    assert Controls.parse({}) == Controls()
    assert Controls.parse({"cache-control": "no-cache"}).no_cache
    assert Controls.parse({"cache-control": "No-Store, foo=1"}).no_store
    aged = Controls.parse({"cache-control": "max-age=60"})
    assert aged.max_age == 60 and aged.ttl == 60 and not aged.no_cache
    assert Controls.parse({"cache-control": "max-age=0"}).no_cache
    assert Controls.parse({"x-pointsman-cache-ttl": "5"}).ttl == 5
    assert Controls.parse({"x-pointsman-cache-ttl": "nonsense"}).ttl is None
