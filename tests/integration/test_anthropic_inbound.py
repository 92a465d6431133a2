"""``POST /v1/messages`` as the official ``anthropic`` SDK and raw HTTP see it: auth, errors,
``count_tokens``, the exact event flow of a stream, and failures after the stream started."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import anthropic
import pytest

from pointsman.core.tokens import estimate_prompt_tokens

from .conftest import MASTER_KEY, GatewayFactory

HELLO = [{"role": "user", "content": "Say hello to the railway."}]
MODELS = {
    "claude": [{"provider": "sim-anthropic", "model": "sim-instant"}],
    "gem": [{"provider": "sim-gemini", "model": "sim-instant"}],
    "oai": [{"provider": "sim", "model": "sim-instant"}],
    "cut": [{"provider": "cutting", "model": "sim-instant"}],
}


@pytest.fixture
async def gateway(start_gateway: GatewayFactory, sim: Any) -> AsyncIterator[str]:
    from .conftest import gateway_config

    providers = gateway_config(sim.port)["providers"]
    cutting = {**providers["sim-anthropic"], "headers": {"x-sim-fault": "disconnect"}}
    # A failure after the first token must reach the client as such, not be retried away.
    reliability = {"retry": {"same_deployment": 0, "attempts_per_alias": 1}}
    async with start_gateway(
        providers={**providers, "cutting": cutting}, models=MODELS, reliability=reliability
    ) as url:
        yield url


@pytest.fixture
async def client(gateway: str) -> AsyncIterator[anthropic.AsyncAnthropic]:
    async with anthropic.AsyncAnthropic(base_url=gateway, api_key=MASTER_KEY, max_retries=0) as sdk:
        yield sdk


async def test_message_with_request_id(client: anthropic.AsyncAnthropic) -> None:
    raw = await client.messages.with_raw_response.create(
        model="claude", max_tokens=100, messages=HELLO
    )
    message = raw.parse()
    assert raw.headers["request-id"] == raw.headers["x-request-id"]
    assert raw.headers["x-pointsman-deployment"] == "sim-anthropic/sim-instant"
    assert message.id.startswith("msg_") and message.role == "assistant"
    assert message.stop_reason == "end_turn" and message.content[0].type == "text"
    assert message.usage.input_tokens > 0 and message.usage.output_tokens == 48


async def test_text_stream_helper(client: anthropic.AsyncAnthropic) -> None:
    async with client.messages.stream(model="gem", max_tokens=100, messages=HELLO) as stream:
        text = "".join([piece async for piece in stream.text_stream])
        final = await stream.get_final_message()
    assert text and text == final.content[0].text  # type: ignore[union-attr]
    assert final.usage.output_tokens == 48


@pytest.mark.parametrize(
    ("kwargs", "error", "kind", "phrase"),
    [
        ({"model": "nope"}, anthropic.NotFoundError, "not_found_error", "claude, gem, oai"),
        ({"temperature": 3}, anthropic.BadRequestError, "invalid_request_error", "temperature"),
        ({"messages": []}, anthropic.BadRequestError, "invalid_request_error", "messages"),
        (
            {"tools": [{"type": "web_search_20250305", "name": "web_search"}]},
            anthropic.UnprocessableEntityError,
            "invalid_request_error",
            "server tool",
        ),
    ],
)
async def test_errors_come_in_anthropic_format(
    client: anthropic.AsyncAnthropic,
    kwargs: dict[str, Any],
    error: type[anthropic.APIStatusError],
    kind: str,
    phrase: str,
) -> None:
    request: dict[str, Any] = {"model": "claude", "max_tokens": 10, "messages": HELLO, **kwargs}
    with pytest.raises(error) as caught:
        await client.messages.create(**request)
    body = caught.value.body
    assert isinstance(body, dict) and body["type"] == "error"
    assert body["error"]["type"] == kind and phrase in body["error"]["message"]


async def test_wrong_key_is_an_anthropic_401(gateway: str) -> None:
    async with anthropic.AsyncAnthropic(base_url=gateway, api_key="wrong", max_retries=0) as sdk:
        with pytest.raises(anthropic.AuthenticationError) as caught:
            await sdk.messages.create(model="claude", max_tokens=10, messages=HELLO)
        with pytest.raises(anthropic.AuthenticationError):
            await sdk.messages.count_tokens(model="claude", messages=HELLO)  # type: ignore[arg-type]
    assert caught.value.body["error"]["type"] == "authentication_error"  # type: ignore[index]


async def test_count_tokens_is_the_gateways_estimate(client: anthropic.AsyncAnthropic) -> None:
    tools = [{"name": "f", "description": "d", "input_schema": {"type": "object"}}]
    raw = await client.messages.with_raw_response.count_tokens(
        model="oai",
        system="Be brief.",
        messages=HELLO,
        tools=tools,  # type: ignore[arg-type]
    )
    canonical_tools = [
        {
            "type": "function",
            "function": {"name": "f", "parameters": {"type": "object"}, "description": "d"},
        }
    ]
    expected = estimate_prompt_tokens(
        [{"role": "system", "content": "Be brief."}, *HELLO], canonical_tools
    )
    assert raw.parse().input_tokens == expected
    assert raw.headers["x-pointsman-estimated"] == "true"
    with pytest.raises(anthropic.NotFoundError):
        await client.messages.count_tokens(model="nope", messages=HELLO)  # type: ignore[arg-type]


async def raw_stream(gateway: str, body: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    headers = {"x-api-key": MASTER_KEY, "anthropic-version": "2023-06-01"}
    async with (
        aiohttp.ClientSession() as session,
        session.post(f"{gateway}/v1/messages", json=body, headers=headers) as response,
    ):
        assert response.status == 200
        assert response.headers["content-type"] == "text/event-stream"
        text = (await response.read()).decode()
    events = []
    for block in text.split("\n\n"):
        if block:
            name, data = block.split("\n")
            events.append((name.removeprefix("event: "), json.loads(data.removeprefix("data: "))))
    return events


@pytest.mark.parametrize("model", ["claude", "gem", "oai"])
async def test_stream_event_flow_with_tool_calls(gateway: str, model: str) -> None:
    tools = [
        {"name": name, "input_schema": {"type": "object", "properties": {"x": {"type": "string"}}}}
        for name in ("first_tool", "second_tool")
    ]
    body = {
        "model": model,
        "max_tokens": 100,
        "stream": True,
        "tools": tools,
        "messages": [{"role": "user", "content": "use first_tool and second_tool"}],
    }
    events = await raw_stream(gateway, body)
    names = [name for name, _ in events]
    assert names[0] == "message_start" and names[-2:] == ["message_delta", "message_stop"]
    for name, payload in events:
        assert payload["type"] == name  # the event name and the data's type agree
    starts = [p for n, p in events if n == "content_block_start"]
    assert [(p["index"], p["content_block"]["name"]) for p in starts] == [
        (0, "first_tool"),
        (1, "second_tool"),
    ]
    stops = [p["index"] for n, p in events if n == "content_block_stop"]
    assert stops == [0, 1]
    for index in (0, 1):
        pieces = [
            p["delta"]["partial_json"]
            for n, p in events
            if n == "content_block_delta" and p["index"] == index
        ]
        assert isinstance(json.loads("".join(pieces))["x"], str)
    delta = events[-2][1]
    assert delta["delta"]["stop_reason"] == "tool_use" and delta["usage"]["output_tokens"] > 0


async def test_failure_after_the_first_token_is_an_error_event(gateway: str) -> None:
    events = await raw_stream(
        gateway, {"model": "cut", "max_tokens": 100, "stream": True, "messages": HELLO}
    )
    names = [name for name, _ in events]
    assert names[0] == "message_start" and "content_block_delta" in names
    assert names[-1] == "error" and "message_stop" not in names
    assert events[-1][1]["error"]["type"] in ("api_error", "overloaded_error")
    assert "connection lost" in events[-1][1]["error"]["message"]


async def test_the_sdk_raises_on_the_error_event(client: anthropic.AsyncAnthropic) -> None:
    with pytest.raises(anthropic.APIStatusError, match="connection lost"):
        async with client.messages.stream(model="cut", max_tokens=100, messages=HELLO) as stream:
            async for _ in stream:
                pass
