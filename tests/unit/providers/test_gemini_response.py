"""Gemini answers, streams, usage and errors → canonical shapes (pure, golden fixtures)."""

from __future__ import annotations

import json
from typing import Any

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
from pointsman.providers.gemini_response import (
    error_from_body,
    finish_reason,
    to_completion,
)
from pointsman.providers.gemini_stream import GeminiStreamTranslator

from .wire import arguments, deltas, events, golden, run

DEPLOYMENT = "gemini/gemini-x"


def complete(name: str) -> tuple[dict[str, Any], Usage, str]:
    body, usage, finish = to_completion(golden(name), DEPLOYMENT, 7, "chatcmpl-1")
    return json.loads(body), usage, finish


def test_function_calls_thoughts_signature_and_usage() -> None:
    completion, usage, finish = complete("gemini_response_function_calls.json")
    assert completion["model"] == "gemini-2.5-flash"
    (choice,) = completion["choices"]
    message = choice["message"]
    assert finish == choice["finish_reason"] == "tool_calls"
    assert message["content"] is None
    assert message["reasoning_content"] == "Weighing which tools to call."
    first, second = message["tool_calls"]
    assert first["function"] == {
        "name": "get_weather",
        "arguments": '{"location":"Lisbon","unit":"celsius"}',
    }
    signature = "CiIBVKhc7oDPpCaXyJKKssjqr4g3JNOSgJ/M2V+1THC1icsWCmwBVKhc7pBABgE"
    assert first["extra_content"] == {"google": {"thought_signature": signature}}
    assert "extra_content" not in second and first["id"] != second["id"]
    assert message["thinking_blocks"] == [
        {
            "type": "thinking",
            "thinking": "Weighing which tools to call.",
            "signature": "gemini:" + signature,
        }
    ]
    # thoughts are not in candidatesTokenCount; the cached part is in promptTokenCount
    assert usage == Usage(
        prompt_tokens=180, completion_tokens=110, cached_tokens=64, reasoning_tokens=80
    )


def test_several_candidates_and_their_finish_reasons() -> None:
    completion, usage, finish = complete("gemini_response_text.json")
    assert finish == "stop"  # the first candidate's
    choices = completion["choices"]
    assert [(c["index"], c["message"]["content"], c["finish_reason"]) for c in choices] == [
        (0, "Canberra is the capital of Australia.", "stop"),
        (1, "It is Canberra", "length"),
    ]
    assert usage == Usage(prompt_tokens=9, completion_tokens=12)


def test_blocked_prompt_is_a_content_filter_error() -> None:
    with pytest.raises(ContentFilteredError, match="SAFETY"):
        complete("gemini_response_blocked.json")


def test_safety_stop_before_any_text_is_an_error_after_some_text_a_finish_reason() -> None:
    completion, _, finish = complete("gemini_response_safety_stop.json")
    assert finish == "content_filter"
    assert completion["choices"][0]["message"]["content"] == "Here is how to"
    empty = {"candidates": [{"content": {"parts": []}, "finishReason": "PROHIBITED_CONTENT"}]}
    with pytest.raises(ContentFilteredError, match="PROHIBITED_CONTENT"):
        to_completion(json.dumps(empty).encode(), DEPLOYMENT, 0, "r")


@pytest.mark.parametrize(
    ("reason", "tools", "expected"),
    [
        ("STOP", False, "stop"),
        ("STOP", True, "tool_calls"),
        ("MAX_TOKENS", False, "length"),
        ("SAFETY", False, "content_filter"),
        ("RECITATION", False, "content_filter"),
        ("BLOCKLIST", False, "content_filter"),
        ("PROHIBITED_CONTENT", False, "content_filter"),
        ("SPII", False, "content_filter"),
        ("IMAGE_SAFETY", False, "content_filter"),
        ("MALFORMED_FUNCTION_CALL", False, "stop"),
        ("OTHER", False, "stop"),
        ("FINISH_REASON_UNSPECIFIED", False, None),
        (None, False, None),
    ],
)
def test_finish_reasons(reason: str | None, tools: bool, expected: str | None) -> None:
    assert finish_reason(reason, tools) == expected


@pytest.mark.parametrize(
    "raw", [b'{"candidates": [{"content": {"par', b"[]", b'{"candidates": []}']
)
def test_malformed_answers_are_protocol_errors(raw: bytes) -> None:
    with pytest.raises(UpstreamProtocolError):
        to_completion(raw, DEPLOYMENT, 0, "r")


@pytest.mark.parametrize(
    ("status", "name", "kind"),
    [
        (429, "gemini_error_rate_limited.json", UpstreamRateLimitedError),
        (400, "gemini_error_bad_key.json", UpstreamAuthError),
        (400, "gemini_error_context.json", ContextWindowExceededError),
    ],
)
def test_error_bodies(status: int, name: str, kind: type[UpstreamError]) -> None:
    error = error_from_body(status, golden(name), {}, DEPLOYMENT, None)
    assert type(error) is kind


@pytest.mark.parametrize(
    ("status", "google_status", "kind"),
    [
        (400, "INVALID_ARGUMENT", UpstreamBadRequestError),
        (403, "PERMISSION_DENIED", UpstreamAuthError),
        (500, "INTERNAL", UpstreamUnavailableError),
        (503, "UNAVAILABLE", UpstreamUnavailableError),
        (504, "DEADLINE_EXCEEDED", UpstreamUnavailableError),
    ],
)
def test_error_statuses(status: int, google_status: str, kind: type[UpstreamError]) -> None:
    body = {"error": {"code": status, "message": "m", "status": google_status}}
    assert type(error_from_body(status, json.dumps(body).encode(), {}, DEPLOYMENT, None)) is kind


def translator(include_usage: bool = True) -> GeminiStreamTranslator:
    return GeminiStreamTranslator(
        "chatcmpl-1", 7, "gemini-x", DEPLOYMENT, include_usage=include_usage
    )


@pytest.mark.parametrize("piece", [3, 50, 100_000])
async def test_stream_with_thoughts_text_and_whole_function_calls(piece: int) -> None:
    t = translator()
    chunks = run(t, await events(golden("gemini_stream_function_calls.sse"), piece))
    steps = deltas(chunks)
    assert steps[0] == {"role": "assistant", "reasoning_content": "Thinking about it."}
    assert steps[1] == {"content": "The weather"}
    assert steps[2]["tool_calls"][0]["function"]["name"] == "get_weather"
    assert steps[2]["thinking_blocks"] == [
        {"type": "thinking", "thinking": "Thinking about it.", "signature": "gemini:c2lnbmF0dXJl"}
    ]
    assert json.loads(arguments(chunks)[0]) == {"location": "Lisbon"}
    assert json.loads(arguments(chunks)[1]) == {"zone": "WET"}
    assert chunks[-2]["choices"][0]["finish_reason"] == "tool_calls"
    assert t.usage == Usage(prompt_tokens=20, completion_tokens=24, reasoning_tokens=10)
    assert chunks[-1]["usage"]["completion_tokens_details"] == {"reasoning_tokens": 10}


async def test_stream_without_finish_reason_is_incomplete() -> None:
    data = golden("gemini_stream_function_calls.sse")
    cut = data[: data.rindex(b"data: ")]
    with pytest.raises(UpstreamUnavailableError, match="before it was complete"):
        run(translator(), await events(cut))


async def test_stream_error_event_and_blocked_prompt() -> None:
    error = (
        b'data: {"error": {"code": 503, "message": "overloaded", "status": "UNAVAILABLE"}}\r\n\r\n'
    )
    with pytest.raises(UpstreamUnavailableError):
        run(translator(), await events(error))
    blocked = b"data: " + golden("gemini_response_blocked.json").replace(b"\n", b"") + b"\r\n\r\n"
    with pytest.raises(ContentFilteredError):
        run(translator(), await events(blocked))


async def test_broken_event_is_a_protocol_error() -> None:
    with pytest.raises(UpstreamProtocolError):
        run(translator(), await events(b'data: {"candidates": [{"content": \r\n\r\n'))
