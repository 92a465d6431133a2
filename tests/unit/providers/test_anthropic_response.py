"""Anthropic answers, usage and errors → canonical shapes (pure, golden fixtures)."""

from __future__ import annotations

import json

import pytest

from pointsman.core.types import Usage
from pointsman.errors import (
    ContentFilteredError,
    ContextWindowExceededError,
    UpstreamAuthError,
    UpstreamBadRequestError,
    UpstreamError,
    UpstreamProtocolError,
    UpstreamRateLimitedError,
    UpstreamUnavailableError,
)
from pointsman.providers.anthropic_response import (
    STOP_REASONS,
    AnthropicUsage,
    error_from_body,
    error_from_event,
    to_completion,
)

from .wire import golden

DEPLOYMENT = "anthropic/claude-x"


def test_tool_use_message() -> None:
    body, usage, finish = to_completion(golden("anthropic_message_tool_use.json"), DEPLOYMENT, 7)
    completion = json.loads(body)
    assert completion["id"] == "chatcmpl-01Aq9w938a90dw8q"
    assert completion["model"] == "claude-sonnet-4-5"
    choice = completion["choices"][0]
    assert finish == choice["finish_reason"] == "tool_calls"
    assert choice["message"]["content"] == "I'll check the weather in Lisbon."
    (call,) = choice["message"]["tool_calls"]
    assert call["id"] == "toolu_01A09q90qw90lq917835lq9"
    assert call["function"]["name"] == "get_weather"
    assert json.loads(call["function"]["arguments"]) == {
        "location": "Lisbon, PT",
        "unit": "celsius",
    }
    assert usage == Usage(prompt_tokens=472, completion_tokens=89)
    assert completion["usage"] == {
        "prompt_tokens": 472,
        "completion_tokens": 89,
        "total_tokens": 561,
    }


def test_thinking_blocks_cache_usage_and_stop_sequence() -> None:
    raw = golden("anthropic_message_thinking_cached.json")
    body, usage, finish = to_completion(raw, DEPLOYMENT, 7)
    choice = json.loads(body)["choices"][0]
    message = choice["message"]
    assert message["content"] == "Canberra."
    assert message["reasoning_content"] == "The user wants the capital; it is Canberra."
    assert message["thinking_blocks"] == json.loads(raw)["content"][:2]  # verbatim
    assert finish == "stop" and choice["stop_reason"] == "\n\nHuman:"
    # input_tokens (12) excludes the cache: prompt_tokens includes reads and writes.
    assert usage == Usage(
        prompt_tokens=12 + 300 + 2048,
        completion_tokens=140,
        cached_tokens=2048,
        cache_write_tokens=300,
        reasoning_tokens=120,
    )
    assert json.loads(body)["usage"]["prompt_tokens_details"] == {
        "cached_tokens": 2048,
        "cache_write_tokens": 300,
    }


@pytest.mark.parametrize(
    ("stop_reason", "finish"),
    [
        ("end_turn", "stop"),
        ("stop_sequence", "stop"),
        ("pause_turn", "stop"),
        ("max_tokens", "length"),
        ("model_context_window_exceeded", "length"),
        ("tool_use", "tool_calls"),
        ("refusal", "content_filter"),
    ],
)
def test_every_documented_stop_reason_maps(stop_reason: str, finish: str) -> None:
    assert STOP_REASONS[stop_reason] == finish
    message = {"content": [{"type": "text", "text": "x"}], "stop_reason": stop_reason}
    assert to_completion(json.dumps(message).encode(), DEPLOYMENT, 0)[2] == finish


def test_refusal_before_any_output_is_a_content_filter_error() -> None:
    raw = json.dumps({"content": [], "stop_reason": "refusal"}).encode()
    with pytest.raises(ContentFilteredError):
        to_completion(raw, DEPLOYMENT, 0)


def test_json_tool_input_becomes_the_answer_text() -> None:
    message = {
        "content": [{"type": "tool_use", "id": "t", "name": "json_response", "input": {"a": 1}}],
        "stop_reason": "tool_use",
    }
    body, _, finish = to_completion(json.dumps(message).encode(), DEPLOYMENT, 0, "json_response")
    choice = json.loads(body)["choices"][0]
    assert finish == "stop" and choice["message"]["content"] == '{"a":1}'
    assert "tool_calls" not in choice["message"]


@pytest.mark.parametrize("raw", [b'{"content": [{"type": "te', b"<html>oops</html>", b'{"x": 1}'])
def test_malformed_answers_are_protocol_errors(raw: bytes) -> None:
    with pytest.raises(UpstreamProtocolError, match="malformed"):
        to_completion(raw, DEPLOYMENT, 0)


def test_usage_merges_cumulative_message_delta_counts() -> None:
    usage = AnthropicUsage(input_tokens=10, output_tokens=1, cache_read_input_tokens=5)
    usage.merge(AnthropicUsage(output_tokens=30))
    assert usage.to_usage() == Usage(prompt_tokens=15, completion_tokens=30, cached_tokens=5)


@pytest.mark.parametrize(
    ("status", "body", "kind"),
    [
        (400, golden("anthropic_error_prompt_too_long.json"), ContextWindowExceededError),
        (
            400,
            b'{"type":"error","error":{"type":"invalid_request_error","message":"bad"}}',
            UpstreamBadRequestError,
        ),
        (
            401,
            b'{"type":"error","error":{"type":"authentication_error","message":"bad key"}}',
            UpstreamAuthError,
        ),
        (
            403,
            b'{"type":"error","error":{"type":"permission_error","message":"no"}}',
            UpstreamAuthError,
        ),
        (
            413,
            b'{"type":"error","error":{"type":"request_too_large","message":"big"}}',
            UpstreamBadRequestError,
        ),
        (
            429,
            b'{"type":"error","error":{"type":"rate_limit_error","message":"slow down"}}',
            UpstreamRateLimitedError,
        ),
        (
            500,
            b'{"type":"error","error":{"type":"api_error","message":"boom"}}',
            UpstreamUnavailableError,
        ),
        (529, golden("anthropic_error_overloaded.json"), UpstreamUnavailableError),
        (502, b"<html>bad gateway</html>", UpstreamUnavailableError),
    ],
)
def test_error_bodies_map_to_the_hierarchy(
    status: int, body: bytes, kind: type[UpstreamError]
) -> None:
    error = error_from_body(status, body, {"Retry-After": "3"}, DEPLOYMENT, None)
    assert type(error) is kind
    assert error.upstream_status == status and error.deployment == DEPLOYMENT
    if kind is UpstreamRateLimitedError:
        assert error.retry_after == 3 and error.headers["Retry-After"] == "3"


def test_error_text_never_carries_our_key() -> None:
    message = {"type": "invalid_request_error", "message": "key sk-ant-secret1 is bad"}
    body = json.dumps({"type": "error", "error": message}).encode()
    error = error_from_body(400, body, {}, DEPLOYMENT, "sk-ant-secret1")
    assert "sk-ant-secret1" not in error.message


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        ("overloaded_error", UpstreamUnavailableError),
        ("rate_limit_error", UpstreamRateLimitedError),
        ("api_error", UpstreamUnavailableError),
        ("invalid_request_error", UpstreamBadRequestError),
    ],
)
def test_stream_error_events_map_by_type(kind: str, expected: type[UpstreamError]) -> None:
    raw = json.dumps({"type": "error", "error": {"type": kind, "message": "m"}}).encode()
    error = error_from_event(raw, DEPLOYMENT, None)
    assert type(error) is expected
    assert "mid-stream" in error.message
