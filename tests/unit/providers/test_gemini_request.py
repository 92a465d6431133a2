"""Canonical request → Gemini generateContent request, and the OpenAPI schema subset (pure)."""

from __future__ import annotations

from typing import Any

import pytest

from pointsman.errors import UnprocessableContentError
from pointsman.providers.gemini_request import SKIP_SIGNATURE, GeminiOptions, to_gemini
from pointsman.providers.gemini_schema import to_openapi

OPTIONS = GeminiOptions()
PARAMS = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
WEATHER = {"type": "function", "function": {"name": "get_weather", "parameters": PARAMS}}


def translate(options: GeminiOptions = OPTIONS, **body: Any) -> dict[str, Any]:
    body.setdefault("messages", [{"role": "user", "content": "hi"}])
    return to_gemini({"model": "alias", **body}, options)


def test_minimal_request() -> None:
    assert translate() == {"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}


def test_system_instruction_and_model_role() -> None:
    out = translate(
        messages=[
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "hi"},
            {"role": "assistant", "content": "hello"},
            {"role": "developer", "content": "No emoji."},
            {"role": "user", "content": "again"},
        ]
    )
    assert out["systemInstruction"] == {"parts": [{"text": "Be brief."}, {"text": "No emoji."}]}
    assert [(c["role"], c["parts"]) for c in out["contents"]] == [
        ("user", [{"text": "hi"}]),
        ("model", [{"text": "hello"}]),
        ("user", [{"text": "again"}]),
    ]


def test_tool_turns_use_the_user_role_names_and_signatures() -> None:
    calls = [
        {
            "id": "c1",
            "type": "function",
            "function": {"name": "get_weather", "arguments": '{"city": "Oslo"}'},
            "extra_content": {"google": {"thought_signature": "c2ln"}},
        },
        {"id": "c2", "type": "function", "function": {"name": "get_time", "arguments": "{}"}},
    ]
    out = translate(
        messages=[
            {"role": "user", "content": "weather and time?"},
            {"role": "assistant", "content": None, "tool_calls": calls},
            {"role": "tool", "tool_call_id": "c1", "content": '{"temp_c": 21}'},
            {"role": "tool", "tool_call_id": "c2", "content": "09:41"},
            {"role": "user", "content": "thanks"},
        ]
    )
    model, results = out["contents"][1], out["contents"][2]
    assert model == {
        "role": "model",
        "parts": [
            {
                "functionCall": {"name": "get_weather", "args": {"city": "Oslo"}},
                "thoughtSignature": "c2ln",
            },
            {"functionCall": {"name": "get_time", "args": {}}},
        ],
    }
    assert results == {
        "role": "user",
        "parts": [
            {"functionResponse": {"name": "get_weather", "response": {"temp_c": 21}}},
            {"functionResponse": {"name": "get_time", "response": {"result": "09:41"}}},
            {"text": "thanks"},
        ],
    }


def test_signature_kept_in_a_tagged_thinking_block_is_replayed() -> None:
    call = {"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}
    assistant = {
        "role": "assistant",
        "tool_calls": [call],
        "thinking_blocks": [
            {"type": "thinking", "thinking": "x", "signature": "anthropic-sig"},
            {"type": "thinking", "thinking": "y", "signature": "gemini:c2ln"},
        ],
    }
    out = translate(messages=[{"role": "user", "content": "q"}, assistant])
    assert out["contents"][1]["parts"][0]["thoughtSignature"] == "c2ln"


def test_placeholder_signature_only_when_asked() -> None:
    call = {"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}
    messages = [{"role": "user", "content": "q"}, {"role": "assistant", "tool_calls": [call]}]
    assert "thoughtSignature" not in translate(messages=messages)["contents"][1]["parts"][0]
    placeholder = translate(GeminiOptions(placeholder_signatures=True), messages=messages)
    assert placeholder["contents"][1]["parts"][0]["thoughtSignature"] == SKIP_SIGNATURE


def test_media_parts() -> None:
    content = [
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBO"}},
        {"type": "image_url", "image_url": {"url": "https://example.com/a/cat.png"}},
        {"type": "input_audio", "input_audio": {"data": "UklG", "format": "wav"}},
        {"type": "file", "file": {"file_data": "data:application/pdf;base64,JVBE"}},
    ]
    parts = translate(messages=[{"role": "user", "content": content}])["contents"][0]["parts"]
    assert parts == [
        {"inlineData": {"mimeType": "image/png", "data": "iVBO"}},
        {"fileData": {"mimeType": "image/png", "fileUri": "https://example.com/a/cat.png"}},
        {"inlineData": {"mimeType": "audio/wav", "data": "UklG"}},
        {"inlineData": {"mimeType": "application/pdf", "data": "JVBE"}},
    ]


@pytest.mark.parametrize(
    ("messages", "param"),
    [
        ([{"role": "tool", "tool_call_id": "nope", "content": "x"}], "messages[0].tool_call_id"),
        ([{"role": "function", "name": "f", "content": "x"}], "messages[0].role"),
        (
            [
                {
                    "role": "assistant",
                    "tool_calls": [
                        {"id": "c", "type": "function", "function": {"name": "f", "arguments": "7"}}
                    ],
                }
            ],
            "messages[0].tool_calls[0].function.arguments",
        ),
    ],
)
def test_refusals_name_the_field(messages: list[dict[str, Any]], param: str) -> None:
    with pytest.raises(UnprocessableContentError) as caught:
        translate(messages=messages)
    assert caught.value.param == param


@pytest.mark.parametrize(
    ("choice", "config"),
    [
        ("auto", {"mode": "AUTO"}),
        ("required", {"mode": "ANY"}),
        ("none", {"mode": "NONE"}),
        (
            {"type": "function", "function": {"name": "get_weather"}},
            {"mode": "ANY", "allowedFunctionNames": ["get_weather"]},
        ),
    ],
)
def test_tools_and_tool_choice(choice: Any, config: dict[str, Any]) -> None:
    out = translate(tools=[WEATHER], tool_choice=choice)
    assert out["tools"] == [
        {"functionDeclarations": [{"name": "get_weather", "parametersJsonSchema": PARAMS}]}
    ]
    assert out["toolConfig"] == {"functionCallingConfig": config}


def test_openapi_schema_format_for_older_models() -> None:
    out = translate(GeminiOptions(schema_format="openapi"), tools=[WEATHER])
    assert out["tools"][0]["functionDeclarations"][0]["parameters"] == PARAMS


def test_generation_config() -> None:
    out = translate(
        temperature=0.3,
        top_p=0.9,
        top_k=20,
        max_tokens=50,
        stop=["END"],
        n=2,
        seed=7,
        presence_penalty=0.5,
        frequency_penalty=0.25,
        response_format={"type": "json_schema", "json_schema": {"name": "x", "schema": PARAMS}},
    )
    assert out["generationConfig"] == {
        "temperature": 0.3,
        "topP": 0.9,
        "topK": 20,
        "seed": 7,
        "presencePenalty": 0.5,
        "frequencyPenalty": 0.25,
        "maxOutputTokens": 50,
        "stopSequences": ["END"],
        "candidateCount": 2,
        "responseMimeType": "application/json",
        "responseJsonSchema": PARAMS,
    }
    assert translate(response_format={"type": "json_object"})["generationConfig"] == {
        "responseMimeType": "application/json"
    }


@pytest.mark.parametrize(
    ("body", "thinking"),
    [
        ({"reasoning_effort": "low"}, {"thinkingBudget": 1024, "includeThoughts": True}),
        ({"reasoning_effort": "minimal"}, {"thinkingBudget": 0, "includeThoughts": False}),
        (
            {"thinking": {"type": "enabled", "budget_tokens": 3000}},
            {"thinkingBudget": 3000, "includeThoughts": True},
        ),
        ({"thinking": {"type": "adaptive"}}, {"thinkingBudget": -1, "includeThoughts": True}),
        ({"thinking": {"type": "disabled"}}, {"thinkingBudget": 0, "includeThoughts": False}),
    ],
)
def test_reasoning_settings(body: dict[str, Any], thinking: dict[str, Any]) -> None:
    assert translate(**body)["generationConfig"]["thinkingConfig"] == thinking


def test_safety_settings_pass_through() -> None:
    settings = [{"category": "HARM_CATEGORY_HARASSMENT", "threshold": "BLOCK_NONE"}]
    assert translate(GeminiOptions(safety_settings=settings))["safetySettings"] == settings


def test_openapi_subset_conversion() -> None:
    schema = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "additionalProperties": False,
        "$defs": {"point": {"type": "object", "properties": {"x": {"type": "number"}}}},
        "properties": {
            "name": {"type": ["string", "null"], "default": "x"},
            "kind": {"const": "fixed"},
            "where": {"$ref": "#/$defs/point"},
            "maybe": {"anyOf": [{"type": "integer"}, {"type": "null"}]},
            "tags": {"type": "array", "items": {"type": "string", "pattern": "^a"}},
            "loop": {"$ref": "#/$defs/missing"},
        },
    }
    assert to_openapi(schema) == {
        "type": "object",
        "properties": {
            "name": {"type": "string", "nullable": True},
            "kind": {"enum": ["fixed"]},
            "where": {"type": "object", "properties": {"x": {"type": "number"}}},
            "maybe": {"type": "integer", "nullable": True},
            "tags": {"type": "array", "items": {"type": "string"}},
            "loop": {"type": "object"},
        },
    }
