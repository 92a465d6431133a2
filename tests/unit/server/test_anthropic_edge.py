"""The Anthropic Messages edge: requests → canonical, answers and streams → Anthropic (pure)."""

from __future__ import annotations

import json
from typing import Any

import msgspec
import pytest

from pointsman.core.types import ChatRequest, Usage
from pointsman.errors import (
    InvalidRequestError,
    PointsmanError,
    ServiceUnavailableError,
    UnprocessableContentError,
    UpstreamRateLimitedError,
)
from pointsman.providers.base import ChatStream
from pointsman.server.anthropic_inbound import to_canonical
from pointsman.server.anthropic_outbound import AnthropicFramer, to_message
from pointsman.server.errors import anthropic_error_body
from pointsman.server.wire import validate


def canonical(**body: Any) -> dict[str, Any]:
    body.setdefault("model", "fast")
    body.setdefault("max_tokens", 100)
    body.setdefault("messages", [{"role": "user", "content": "hi"}])
    out = to_canonical(body)
    validate(out, ChatRequest)  # always a valid canonical request
    return out


def test_minimal_and_streaming_requests() -> None:
    assert canonical() == {
        "model": "fast",
        "messages": [{"role": "user", "content": "hi"}],
        "max_tokens": 100,
    }
    streamed = canonical(stream=True)
    assert streamed["stream"] is True
    assert streamed["stream_options"] == {"include_usage": True}


def test_system_sampling_stop_metadata_thinking_and_output_config() -> None:
    schema = {"type": "object", "properties": {"a": {"type": "integer"}}}
    out = canonical(
        system=[{"type": "text", "text": "Be brief.", "cache_control": {"type": "ephemeral"}}],
        temperature=0.5,
        top_p=0.9,
        top_k=5,
        stop_sequences=["END"],
        metadata={"user_id": "u-9"},
        thinking={"type": "enabled", "budget_tokens": 2048},
        output_config={"format": {"type": "json_schema", "schema": schema}, "effort": "max"},
    )
    assert out["messages"][0] == {
        "role": "system",
        "content": [{"type": "text", "text": "Be brief.", "cache_control": {"type": "ephemeral"}}],
    }
    assert (out["temperature"], out["top_p"], out["top_k"]) == (0.5, 0.9, 5)
    assert out["stop"] == ["END"] and out["user"] == "u-9"
    assert out["thinking"] == {"type": "enabled", "budget_tokens": 2048}
    assert out["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "output", "schema": schema},
    }
    assert out["reasoning_effort"] == "high"
    assert canonical(system="Plain.")["messages"][0] == {"role": "system", "content": "Plain."}


def test_tool_use_conversation_with_thinking() -> None:
    thinking = {"type": "thinking", "thinking": "need weather", "signature": "sig=="}
    out = canonical(
        messages=[
            {"role": "user", "content": "weather?"},
            {
                "role": "assistant",
                "content": [
                    thinking,
                    {"type": "text", "text": "Checking."},
                    {"type": "tool_use", "id": "t1", "name": "get_weather", "input": {"c": "Oslo"}},
                ],
            },
            {
                "role": "user",
                "content": [
                    {"type": "tool_result", "tool_use_id": "t1", "content": "21C"},
                    {"type": "text", "text": "and tomorrow?"},
                ],
            },
        ],
        tools=[{"name": "get_weather", "description": "d", "input_schema": {"type": "object"}}],
        tool_choice={"type": "any", "disable_parallel_tool_use": True},
    )
    assert out["messages"][1] == {
        "role": "assistant",
        "content": "Checking.",
        "tool_calls": [
            {
                "id": "t1",
                "type": "function",
                "function": {"name": "get_weather", "arguments": '{"c":"Oslo"}'},
            }
        ],
        "reasoning_content": "need weather",
        "thinking_blocks": [thinking],
    }
    assert out["messages"][2:] == [
        {"role": "tool", "tool_call_id": "t1", "content": "21C"},
        {"role": "user", "content": "and tomorrow?"},
    ]
    assert out["tools"] == [
        {
            "type": "function",
            "function": {
                "name": "get_weather",
                "parameters": {"type": "object"},
                "description": "d",
            },
        }
    ]
    assert out["tool_choice"] == "required" and out["parallel_tool_calls"] is False
    named = canonical(
        tools=out["tools"] and [{"name": "f", "input_schema": {}}],
        tool_choice={"type": "tool", "name": "f"},
    )
    assert named["tool_choice"] == {"type": "function", "function": {"name": "f"}}


def test_images_documents_and_images_in_tool_results() -> None:
    image = {
        "type": "image",
        "source": {"type": "base64", "media_type": "image/png", "data": "AA=="},
    }
    out = canonical(
        messages=[
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "look"},
                    image,
                    {"type": "image", "source": {"type": "url", "url": "https://x.test/a.png"}},
                    {
                        "type": "document",
                        "title": "r.pdf",
                        "source": {
                            "type": "base64",
                            "media_type": "application/pdf",
                            "data": "JVBE",
                        },
                    },
                    {"type": "document", "source": {"type": "text", "data": "plain notes"}},
                ],
            },
            {
                "role": "assistant",
                "content": [{"type": "tool_use", "id": "t", "name": "f", "input": {}}],
            },
            {
                "role": "user",
                "content": [
                    {
                        "type": "tool_result",
                        "tool_use_id": "t",
                        "content": [{"type": "text", "text": "see"}, image],
                    },
                ],
            },
        ]
    )
    assert out["messages"][0]["content"] == [
        {"type": "text", "text": "look"},
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,AA=="}},
        {"type": "image_url", "image_url": {"url": "https://x.test/a.png"}},
        {
            "type": "file",
            "file": {"file_data": "data:application/pdf;base64,JVBE", "filename": "r.pdf"},
        },
        {"type": "text", "text": "plain notes"},
    ]
    assert out["messages"][2:] == [
        {"role": "tool", "tool_call_id": "t", "content": "see"},
        {
            "role": "user",
            "content": [{"type": "image_url", "image_url": {"url": "data:image/png;base64,AA=="}}],
        },
    ]


@pytest.mark.parametrize(
    ("body", "error", "param"),
    [
        ({"max_tokens": None}, InvalidRequestError, "max_tokens"),
        ({"messages": []}, InvalidRequestError, "messages"),
        ({"temperature": 1.5}, InvalidRequestError, "temperature"),
        (
            {"messages": [{"role": "system", "content": "x"}]},
            InvalidRequestError,
            "messages[0].role",
        ),
        (
            {"messages": [{"role": "user", "content": [{"type": "video", "url": "x"}]}]},
            UnprocessableContentError,
            "messages[0].content[0].type",
        ),
        (
            {"tools": [{"type": "web_search_20250305", "name": "web_search"}]},
            UnprocessableContentError,
            "tools[0]",
        ),
        (
            {
                "messages": [
                    {
                        "role": "user",
                        "content": [{"type": "image", "source": {"type": "file", "file_id": "f"}}],
                    }
                ]
            },
            UnprocessableContentError,
            "messages[0].content[0]",
        ),
    ],
)
def test_invalid_requests_name_the_field(
    body: dict[str, Any], error: type[PointsmanError], param: str
) -> None:
    full = {"model": "fast", "max_tokens": 10, "messages": [{"role": "user", "content": "hi"}]}
    full.update(body)
    if full["max_tokens"] is None:
        del full["max_tokens"]
    with pytest.raises(error) as caught:
        to_canonical(full)
    assert caught.value.param == param


def completion(message: dict[str, Any], finish: str, **choice: Any) -> bytes:
    return json.dumps(
        {
            "id": "chatcmpl-abc",
            "model": "up-model",
            "choices": [{"index": 0, "message": message, "finish_reason": finish, **choice}],
        }
    ).encode()


def test_answer_to_message() -> None:
    message = {
        "role": "assistant",
        "content": "Checking.",
        "tool_calls": [
            {"id": "c1", "type": "function", "function": {"name": "f", "arguments": '{"a": 1}'}},
            {"id": "c2", "type": "function", "function": {"name": "g", "arguments": "not json"}},
        ],
        "thinking_blocks": [{"type": "thinking", "thinking": "t", "signature": "s"}],
    }
    usage = Usage(prompt_tokens=100, completion_tokens=20, cached_tokens=60, cache_write_tokens=10)
    out = json.loads(to_message(completion(message, "tool_calls"), usage, []))
    assert out == {
        "id": "msg_abc",
        "type": "message",
        "role": "assistant",
        "model": "up-model",
        "content": [
            {"type": "thinking", "thinking": "t", "signature": "s"},
            {"type": "text", "text": "Checking."},
            {"type": "tool_use", "id": "c1", "name": "f", "input": {"a": 1}},
            {"type": "tool_use", "id": "c2", "name": "g", "input": {"_raw_arguments": "not json"}},
        ],
        "stop_reason": "tool_use",
        "stop_sequence": None,
        "usage": {
            "input_tokens": 30,
            "cache_creation_input_tokens": 10,
            "cache_read_input_tokens": 60,
            "output_tokens": 20,
        },
    }


@pytest.mark.parametrize(
    ("finish", "extra", "stops", "expected"),
    [
        ("stop", {}, [], ("end_turn", None)),
        ("stop", {"stop_reason": "END"}, ["END"], ("stop_sequence", "END")),
        ("stop", {"stop_reason": 50256}, ["END"], ("end_turn", None)),
        ("length", {}, [], ("max_tokens", None)),
        ("tool_calls", {}, [], ("tool_use", None)),
        ("content_filter", {}, [], ("refusal", None)),
    ],
)
def test_stop_reasons(
    finish: str, extra: dict[str, Any], stops: list[str], expected: tuple[str, str | None]
) -> None:
    raw = completion({"role": "assistant", "content": "x"}, finish, **extra)
    out = json.loads(to_message(raw, None, stops))
    assert (out["stop_reason"], out["stop_sequence"]) == expected


def test_reasoning_content_alone_becomes_an_unsigned_thinking_block() -> None:
    raw = completion({"role": "assistant", "content": "4", "reasoning_content": "2+2"}, "stop")
    content = json.loads(to_message(raw, None, []))["content"]
    assert content[0] == {"type": "thinking", "thinking": "2+2", "signature": ""}


class FinishedStream(ChatStream):
    def __init__(self, usage: Usage | None, finish: str | None) -> None:
        self.usage, self.finish_reason = usage, finish

    async def __aiter__(self):  # type: ignore[no-untyped-def,override]
        yield []

    async def aclose(self) -> None:
        pass


def chunk(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> bytes:
    choice = {"index": 0, "delta": delta, "finish_reason": finish, **extra}
    return json.dumps({"id": "c", "model": "up-model", "choices": [choice]}).encode()


def parse(data: bytes) -> list[tuple[str, dict[str, Any]]]:
    out = []
    for block in data.decode().split("\n\n"):
        if block:
            name, payload = block.split("\n")
            out.append((name.removeprefix("event: "), json.loads(payload.removeprefix("data: "))))
    return out


def test_framer_event_sequence_for_thinking_text_and_interleaved_tool_calls() -> None:
    framer = AnthropicFramer("msg_1", 42, ["END"])
    data = framer.batch(
        [
            chunk({"role": "assistant", "reasoning_content": "hmm"}),
            chunk({"reasoning_content": " ok"}),
            chunk(
                {"thinking_blocks": [{"type": "thinking", "thinking": "hmm ok", "signature": "S"}]}
            ),
            chunk({"content": "Hi"}),
            chunk(
                {
                    "tool_calls": [
                        {"index": 0, "id": "a", "function": {"name": "f", "arguments": ""}}
                    ]
                }
            ),
            chunk({"tool_calls": [{"index": 0, "function": {"arguments": '{"x":'}}]}),
            chunk(
                {
                    "tool_calls": [
                        {"index": 1, "id": "b", "function": {"name": "g", "arguments": "{}"}}
                    ]
                }
            ),
            chunk({"tool_calls": [{"index": 0, "function": {"arguments": " 1}"}}]}),
            chunk({}, "stop", stop_reason="END"),
        ]
    )
    data += framer.end(FinishedStream(Usage(prompt_tokens=40, completion_tokens=9), "stop"))
    events = parse(data)
    names = [name for name, _ in events]
    assert names == [
        "message_start",
        "content_block_start",
        "content_block_delta",
        "content_block_delta",
        "content_block_delta",
        "content_block_stop",
        "content_block_start",
        "content_block_delta",
        "content_block_stop",
        "content_block_start",
        "content_block_delta",
        "content_block_stop",
        "content_block_start",
        "content_block_delta",
        "content_block_delta",
        "content_block_stop",
        "message_delta",
        "message_stop",
    ]
    assert events[0][1]["message"]["usage"] == {"input_tokens": 42, "output_tokens": 0}
    assert events[0][1]["message"]["model"] == "up-model"
    assert events[4][1]["delta"] == {"type": "signature_delta", "signature": "S"}
    late_piece = events[-4][1]
    assert late_piece["index"] == 2 and late_piece["delta"]["partial_json"] == " 1}"
    assert events[-2][1] == {
        "type": "message_delta",
        "delta": {"stop_reason": "stop_sequence", "stop_sequence": "END"},
        "usage": {
            "input_tokens": 40,
            "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": 0,
            "output_tokens": 9,
        },
    }
    indices = [p["index"] for n, p in events if n == "content_block_start"]
    assert indices == [0, 1, 2, 3]


def test_framer_error_event() -> None:
    framer = AnthropicFramer("msg_1", 1, [])
    event = parse(framer.error(UpstreamRateLimitedError("slow down")))
    assert event == [
        ("error", {"type": "error", "error": {"type": "rate_limit_error", "message": "slow down"}})
    ]


@pytest.mark.parametrize(
    ("error", "kind"),
    [
        (InvalidRequestError("x"), "invalid_request_error"),
        (ServiceUnavailableError("x"), "overloaded_error"),
        (UnprocessableContentError("x"), "invalid_request_error"),
    ],
)
def test_anthropic_error_types(error: PointsmanError, kind: str) -> None:
    body = msgspec.json.decode(anthropic_error_body(error))
    assert body == {"type": "error", "error": {"type": kind, "message": "x"}}
