"""The gateway as the official ``openai`` SDK sees it: chat, streams, tools, JSON, embeddings."""

from __future__ import annotations

import base64
import json

import openai
import pytest

WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "parameters": {
            "type": "object",
            "properties": {
                "city": {"type": "string"},
                "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
            },
            "required": ["city"],
        },
    },
}
TIME = {
    "type": "function",
    "function": {
        "name": "get_time",
        "parameters": {
            "type": "object",
            "properties": {"zone": {"type": "string"}},
            "required": ["zone"],
        },
    },
}
HELLO = [{"role": "user", "content": "Say hello to the railway."}]


async def test_chat_completion(client: openai.AsyncOpenAI) -> None:
    raw = await client.chat.completions.with_raw_response.create(model="fast", messages=HELLO)
    response = raw.parse()
    assert raw.headers["x-pointsman-deployment"] == "sim/sim-small"
    assert raw.headers["x-request-id"]
    assert response.model == "sim-small"
    assert response.choices[0].message.content
    assert response.choices[0].finish_reason == "stop"
    assert response.usage.prompt_tokens > 0
    assert response.usage.completion_tokens > 0


async def test_max_tokens_and_unknown_fields_pass_through(client: openai.AsyncOpenAI) -> None:
    response = await client.chat.completions.create(
        model="instant",
        messages=HELLO,
        max_completion_tokens=3,
        extra_body={"vendor_specific_knob": 1},
    )
    assert response.choices[0].finish_reason == "length"
    assert response.usage.completion_tokens == 3


async def test_streaming_with_usage(client: openai.AsyncOpenAI) -> None:
    stream = await client.chat.completions.create(
        model="fast", messages=HELLO, stream=True, stream_options={"include_usage": True}
    )
    text, usage, finish = "", None, None
    async for chunk in stream:
        if chunk.choices:
            text += chunk.choices[0].delta.content or ""
            finish = chunk.choices[0].finish_reason or finish
        if chunk.usage:
            usage = chunk.usage
    assert text and finish == "stop"
    assert usage is not None and usage.completion_tokens > 0


async def test_streaming_without_usage_request_has_no_usage_chunk(
    client: openai.AsyncOpenAI,
) -> None:
    """Pointsman asks the upstream for usage anyway (for accounting) but hides that chunk."""
    stream = await client.chat.completions.create(model="fast", messages=HELLO, stream=True)
    chunks = [chunk async for chunk in stream]
    assert chunks and all(chunk.usage is None for chunk in chunks)
    assert all(chunk.choices for chunk in chunks)


async def test_same_answer_streamed_and_not(client: openai.AsyncOpenAI) -> None:
    plain = await client.chat.completions.create(model="instant", messages=HELLO, seed=3)
    stream = await client.chat.completions.create(
        model="instant", messages=HELLO, seed=3, stream=True
    )
    streamed = "".join([c.choices[0].delta.content or "" async for c in stream if c.choices])
    assert streamed == plain.choices[0].message.content


async def test_tool_call(client: openai.AsyncOpenAI) -> None:
    response = await client.chat.completions.create(
        model="instant",
        messages=[{"role": "user", "content": "What is the weather in Paris?"}],
        tools=[WEATHER],
        tool_choice="auto",
    )
    choice = response.choices[0]
    assert choice.finish_reason == "tool_calls"
    call = choice.message.tool_calls[0]
    assert call.function.name == "get_weather"
    assert isinstance(json.loads(call.function.arguments)["city"], str)


async def test_parallel_tool_calls_streamed_reassemble(client: openai.AsyncOpenAI) -> None:
    stream = await client.chat.completions.create(
        model="instant",
        messages=[{"role": "user", "content": "Use get_weather and get_time for Oslo."}],
        tools=[WEATHER, TIME],
        stream=True,
    )
    calls: dict[int, dict[str, str]] = {}
    pieces = 0
    finish = None
    async for chunk in stream:
        if not chunk.choices:
            continue
        finish = chunk.choices[0].finish_reason or finish
        for delta in chunk.choices[0].delta.tool_calls or []:
            entry = calls.setdefault(delta.index, {"name": "", "arguments": ""})
            if delta.function and delta.function.name:
                entry["name"] = delta.function.name
            if delta.function and delta.function.arguments:
                entry["arguments"] += delta.function.arguments
                pieces += 1
    assert finish == "tool_calls"
    assert [calls[i]["name"] for i in sorted(calls)] == ["get_weather", "get_time"]
    assert pieces > 2  # arguments really arrived in several chunks
    for entry in calls.values():
        assert isinstance(json.loads(entry["arguments"]), dict)


async def test_forced_tool_choice(client: openai.AsyncOpenAI) -> None:
    response = await client.chat.completions.create(
        model="instant",
        messages=HELLO,
        tools=[WEATHER, TIME],
        tool_choice={"type": "function", "function": {"name": "get_time"}},
    )
    assert response.choices[0].message.tool_calls[0].function.name == "get_time"


async def test_json_mode_and_schema(client: openai.AsyncOpenAI) -> None:
    response = await client.chat.completions.create(
        model="instant", messages=HELLO, response_format={"type": "json_object"}
    )
    assert isinstance(json.loads(response.choices[0].message.content), dict)
    schema = {
        "type": "object",
        "properties": {"answer": {"type": "string"}, "score": {"type": "integer"}},
        "required": ["answer", "score"],
    }
    response = await client.chat.completions.create(
        model="instant",
        messages=HELLO,
        response_format={
            "type": "json_schema",
            "json_schema": {"name": "graded", "schema": schema},
        },
    )
    data = json.loads(response.choices[0].message.content)
    assert isinstance(data["answer"], str) and isinstance(data["score"], int)


async def test_image_content_parts(client: openai.AsyncOpenAI) -> None:
    response = await client.chat.completions.create(
        model="smart",  # routing sends images only to models the catalog says can see them
        messages=[
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "Describe this."},
                    {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0K"}},
                ],
            }
        ],
    )
    assert response.choices[0].message.content


async def test_embeddings_float_and_base64(client: openai.AsyncOpenAI) -> None:
    floats = await client.embeddings.create(
        model="embed", input=["a red train", "a red train"], encoding_format="float"
    )
    assert len(floats.data) == 2
    assert floats.data[0].embedding == floats.data[1].embedding
    assert floats.usage.prompt_tokens > 0
    default = await client.embeddings.create(model="embed", input="a red train")
    assert default.data[0].embedding == pytest.approx(floats.data[0].embedding, abs=1e-6)
    raw = await client.embeddings.with_raw_response.create(
        model="embed", input="x", encoding_format="base64"
    )
    assert base64.b64decode(json.loads(raw.text)["data"][0]["embedding"])


async def test_models_lists_aliases(client: openai.AsyncOpenAI) -> None:
    models = [m.id async for m in client.models.list()]
    assert models == ["fast", "smart", "instant", "embed"]
