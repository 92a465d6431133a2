"""Canonical request → Anthropic Messages request (pure)."""

from __future__ import annotations

from typing import Any

import pytest

from pointsman.errors import UnprocessableContentError
from pointsman.providers.anthropic_request import (
    JSON_TOOL,
    AnthropicOptions,
    AnthropicRequest,
    to_anthropic,
)

OPTIONS = AnthropicOptions()
WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
    },
}


def translate(
    options: AnthropicOptions = OPTIONS, stream: bool = False, **body: Any
) -> AnthropicRequest:
    body.setdefault("messages", [{"role": "user", "content": "hi"}])
    return to_anthropic({"model": "alias", **body}, "claude-x", options, stream)


def test_minimal_request_gets_model_and_default_max_tokens() -> None:
    out = translate().body
    assert out == {
        "model": "claude-x",
        "max_tokens": 4096,
        "messages": [{"role": "user", "content": [{"type": "text", "text": "hi"}]}],
    }
    assert translate(AnthropicOptions(max_tokens=99)).body["max_tokens"] == 99
    assert translate(max_completion_tokens=7, max_tokens=9).body["max_tokens"] == 7
    assert translate(stream=True).body["stream"] is True


def test_system_and_developer_messages_become_system_blocks_wherever_they_are() -> None:
    out = translate(
        messages=[
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "hi"},
            {
                "role": "developer",
                "content": [
                    {"type": "text", "text": "No emoji.", "cache_control": {"type": "ephemeral"}}
                ],
            },
        ]
    ).body
    assert out["system"] == [
        {"type": "text", "text": "Be brief."},
        {"type": "text", "text": "No emoji.", "cache_control": {"type": "ephemeral"}},
    ]
    assert [m["role"] for m in out["messages"]] == ["user"]


def test_tool_conversation_groups_parallel_results_before_user_text() -> None:
    messages = [
        {"role": "user", "content": "weather and time?"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "c1",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city": "Oslo"}'},
                },
                {"id": "c2", "type": "function", "function": {"name": "get_time", "arguments": ""}},
            ],
        },
        {"role": "tool", "tool_call_id": "c1", "content": "21C"},
        {"role": "tool", "tool_call_id": "c2", "content": [{"type": "text", "text": "09:41"}]},
        {"role": "user", "content": "thanks"},
    ]
    out = translate(messages=messages).body["messages"]
    assert [m["role"] for m in out] == ["user", "assistant", "user"]
    assert out[1]["content"] == [
        {"type": "tool_use", "id": "c1", "name": "get_weather", "input": {"city": "Oslo"}},
        {"type": "tool_use", "id": "c2", "name": "get_time", "input": {}},
    ]
    assert out[2]["content"] == [
        {"type": "tool_result", "tool_use_id": "c1", "content": "21C"},
        {
            "type": "tool_result",
            "tool_use_id": "c2",
            "content": [{"type": "text", "text": "09:41"}],
        },
        {"type": "text", "text": "thanks"},
    ]


def test_thinking_blocks_go_first_verbatim_and_foreign_ones_stay_behind() -> None:
    blocks = [
        {"type": "thinking", "thinking": "hmm", "signature": "c2ln+/=="},
        {"type": "redacted_thinking", "data": "xyz"},
        {"type": "thinking", "thinking": "g", "signature": "gemini:abc"},
    ]
    assistant = {
        "role": "assistant",
        "content": "ok",
        "thinking_blocks": blocks,
        "reasoning_content": "hmm",
    }
    out = translate(messages=[{"role": "user", "content": "q"}, assistant]).body
    assert out["messages"][1]["content"] == [*blocks[:2], {"type": "text", "text": "ok"}]


def test_images_and_pdfs() -> None:
    content = [
        {"type": "text", "text": "what is this?"},
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}},
        {"type": "image_url", "image_url": {"url": "https://example.com/cat.jpg"}},
        {"type": "file", "file": {"file_data": "data:application/pdf;base64,JVBERi0x"}},
    ]
    out = translate(messages=[{"role": "user", "content": content}]).body
    assert out["messages"][0]["content"][1:] == [
        {
            "type": "image",
            "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="},
        },
        {"type": "image", "source": {"type": "url", "url": "https://example.com/cat.jpg"}},
        {
            "type": "document",
            "source": {"type": "base64", "media_type": "application/pdf", "data": "JVBERi0x"},
        },
    ]


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"n": 2}, "n"),
        (
            {
                "messages": [
                    {
                        "role": "user",
                        "content": [
                            {
                                "type": "input_audio",
                                "input_audio": {"data": "AA==", "format": "wav"},
                            }
                        ],
                    }
                ]
            },
            "messages[0].content[0]",
        ),
        (
            {
                "messages": [
                    {
                        "role": "assistant",
                        "tool_calls": [
                            {
                                "id": "c",
                                "type": "function",
                                "function": {"name": "f", "arguments": "[1]"},
                            }
                        ],
                    }
                ]
            },
            "messages[0].tool_calls[0].function.arguments",
        ),
    ],
)
def test_what_anthropic_cannot_express_is_refused_naming_the_field(
    body: dict[str, Any], param: str
) -> None:
    with pytest.raises(UnprocessableContentError) as caught:
        translate(**body)
    assert caught.value.param == param


@pytest.mark.parametrize(
    ("choice", "parallel", "expected"),
    [
        ("auto", None, {"type": "auto"}),
        ("required", None, {"type": "any"}),
        ("none", None, {"type": "none"}),
        (
            {"type": "function", "function": {"name": "get_weather"}},
            None,
            {"type": "tool", "name": "get_weather"},
        ),
        (None, False, {"type": "auto", "disable_parallel_tool_use": True}),
        ("required", False, {"type": "any", "disable_parallel_tool_use": True}),
        (None, None, None),
    ],
)
def test_tool_choice(choice: Any, parallel: bool | None, expected: dict[str, Any] | None) -> None:
    body: dict[str, Any] = {"tools": [WEATHER]}
    if choice is not None:
        body["tool_choice"] = choice
    if parallel is not None:
        body["parallel_tool_calls"] = parallel
    out = translate(**body).body
    assert out.get("tool_choice") == expected
    assert out["tools"] == [
        {
            "name": "get_weather",
            "description": "Weather",
            "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}},
        }
    ]


def test_sampling_stop_and_user() -> None:
    out = translate(temperature=1.6, top_p=0.9, top_k=40, stop="END", user="u-1").body
    assert (out["temperature"], out["top_p"], out["top_k"]) == (1.0, 0.9, 40)
    assert out["stop_sequences"] == ["END"]
    assert out["metadata"] == {"user_id": "u-1"}
    assert translate(stop=["a", "b"]).body["stop_sequences"] == ["a", "b"]


def test_reasoning_effort_becomes_a_thinking_budget_above_the_answer_limit() -> None:
    out = translate(reasoning_effort="medium", max_tokens=1000, temperature=0.2, top_p=0.5).body
    assert out["thinking"] == {"type": "enabled", "budget_tokens": 4096}
    assert out["max_tokens"] == 5096
    assert "temperature" not in out and "top_p" not in out
    assert "thinking" not in translate(reasoning_effort="minimal").body


def test_thinking_extension_passes_verbatim() -> None:
    thinking = {"type": "enabled", "budget_tokens": 2048}
    out = translate(thinking=thinking, max_tokens=8000, reasoning_effort="high").body
    assert out["thinking"] == thinking and out["max_tokens"] == 8000
    assert translate(thinking={"type": "adaptive"}).body["thinking"] == {"type": "adaptive"}


SCHEMA = {"type": "object", "properties": {"a": {"type": "integer"}}, "required": ["a"]}


def test_json_schema_native_and_as_a_forced_tool() -> None:
    response_format = {"type": "json_schema", "json_schema": {"name": "x", "schema": SCHEMA}}
    native = translate(response_format=response_format)
    assert native.body["output_config"] == {"format": {"type": "json_schema", "schema": SCHEMA}}
    assert native.json_tool is None
    tool = translate(AnthropicOptions(json_mode="tool"), response_format=response_format)
    assert tool.json_tool == JSON_TOOL
    assert tool.body["tools"][-1]["input_schema"] == SCHEMA
    assert tool.body["tool_choice"] == {"type": "tool", "name": JSON_TOOL}
    both = translate(
        AnthropicOptions(json_mode="tool"), response_format=response_format, tools=[WEATHER]
    )
    assert [t["name"] for t in both.body["tools"]] == ["get_weather", JSON_TOOL]
    assert "tool_choice" not in both.body  # the model may still call the real tool


def test_json_object_asks_for_any_object() -> None:
    out = translate(response_format={"type": "json_object"}).body
    assert out["output_config"]["format"]["schema"] == {"type": "object"}


def test_provider_options_are_validated_naming_the_setting() -> None:
    from pointsman.config import ProviderConfig
    from pointsman.providers.registry import option_problems

    good = ProviderConfig("anthropic", "https://x.test/v1", options={"json_mode": "tool"})
    assert option_problems("a", good) == []
    bad = ProviderConfig("anthropic", "https://x.test/v1", options={"json_mod": "tool"})
    (problem,) = option_problems("a", bad)
    assert problem.startswith("providers.a.options: unknown setting 'json_mod'; known: ")
    wrong = ProviderConfig("gemini", "https://x.test/v1beta", options={"schema_format": "yaml"})
    assert option_problems("g", wrong)[0].startswith("providers.g.options.schema_format:")
