"""Inbound OpenAI bodies: valid requests keep unknown fields; invalid ones name the field."""

from __future__ import annotations

import pytest

from pointsman.core.types import ChatRequest, EmbeddingRequest, ImagePart, TextPart
from pointsman.errors import InvalidRequestError, UnprocessableContentError
from pointsman.server.wire import parse_json, validate


def chat(**fields: object) -> dict:
    return {"model": "fast", "messages": [{"role": "user", "content": "hi"}], **fields}


def test_full_request_validates() -> None:
    body = chat(
        messages=[
            {"role": "system", "content": "be brief"},
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "what is this?"},
                    {"type": "image_url", "image_url": {"url": "data:image/png;base64,AA=="}},
                ],
            },
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}
                ],
            },
            {"role": "tool", "tool_call_id": "c1", "content": "42"},
        ],
        tools=[{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}],
        tool_choice="auto",
        response_format={"type": "json_schema", "json_schema": {"name": "x", "schema": {}}},
        temperature=0.2,
        top_p=0.9,
        max_completion_tokens=64,
        stop=["\n\n"],
        n=2,
        seed=7,
        logprobs=True,
        top_logprobs=3,
        user="u1",
        metadata={"feature": "search"},
        stream=True,
        stream_options={"include_usage": True},
        some_vendor_field={"kept": True},
    )
    request = validate(body, ChatRequest)
    assert request.output_limit == 64
    assert request.wants_usage_chunk
    parts = request.messages[1].content
    assert isinstance(parts, list)
    assert isinstance(parts[0], TextPart) and isinstance(parts[1], ImagePart)
    assert body["some_vendor_field"] == {"kept": True}  # the raw body still carries it


@pytest.mark.parametrize(
    ("body", "param", "fragment"),
    [
        ({"messages": [{"role": "user", "content": "x"}]}, "model", "Missing required"),
        ({"model": "fast"}, "messages", "Missing required"),
        (chat(messages=[]), "messages", "length >= 1"),
        (chat(messages=[{"role": "robot", "content": "x"}]), "messages[0].role", "robot"),
        (chat(messages=[{"content": "x"}]), "messages[0].role", "Missing required"),
        (chat(temperature="hot"), "temperature", "got `str`"),
        (chat(temperature=3), "temperature", "<= 2"),
        (chat(max_tokens=0), "max_tokens", ">= 1"),
        (chat(n=0), "n", ">= 1"),
        (chat(stream="yes"), "stream", "got `str`"),
        (chat(tools=[{"type": "function"}]), "tools[0].function", "Missing required"),
    ],
)
def test_invalid_fields_are_named(body: dict, param: str, fragment: str) -> None:
    with pytest.raises(InvalidRequestError) as caught:
        validate(body, ChatRequest)
    error = caught.value
    assert error.status == 400
    assert error.param == param
    assert fragment in error.message


def test_unknown_content_part_is_unprocessable() -> None:
    body = chat(messages=[{"role": "user", "content": [{"type": "video_url", "url": "x"}]}])
    with pytest.raises(UnprocessableContentError) as caught:
        validate(body, ChatRequest)
    assert caught.value.status == 422
    assert caught.value.param == "messages[0].content[0].type"
    assert "video_url" in caught.value.message


@pytest.mark.parametrize("raw", [b"", b"{", b"[1, 2]", b'"text"', b"\xff\xfe"])
def test_bad_json_is_400(raw: bytes) -> None:
    with pytest.raises(InvalidRequestError) as caught:
        parse_json(raw)
    assert caught.value.status == 400


def test_embedding_input_shapes() -> None:
    for value in ["a", ["a", "b"], [1, 2, 3], [[1, 2], [3]]]:
        assert validate({"model": "e", "input": value}, EmbeddingRequest).input == value
    with pytest.raises(InvalidRequestError) as caught:
        validate({"model": "e", "input": {"text": "a"}}, EmbeddingRequest)
    assert caught.value.param == "input"
