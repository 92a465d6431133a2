"""Conformance: tool calls (streamed and not, parallel, in pieces), tool results, thinking."""

from __future__ import annotations

import json

import pytest

from tests.conformance.cases import ARGS_IN_PIECES, REASONING, Case
from tests.conformance.clients import Ask, Client, Failure, Reply
from tests.conformance.prompts import TIME, WEATHER, conversation, send

pytestmark = pytest.mark.asyncio(loop_scope="session")

TOOLS = [WEATHER, TIME]
RESULTS = {"get_weather": '{"temp_c": 21, "sky": "clear"}', "get_time": '{"time": "09:41"}'}


def valid_weather_call(reply: Reply, index: int = 0) -> None:
    call = reply.calls[index]
    assert call.name == "get_weather" and call.id
    arguments = json.loads(call.arguments)
    assert isinstance(arguments["city"], str)
    assert arguments["unit"] in ("celsius", "fahrenheit")
    assert 1 <= arguments["days"] <= 7


@pytest.mark.feature("tools")
async def test_tool_call(client: Client, case: Case) -> None:
    reply = await send(
        client, case, conversation("Weather in Oslo? Use get_weather."), Ask(tools=TOOLS)
    )
    assert reply.finish == "tool_calls"
    assert len(reply.calls) == 1
    valid_weather_call(reply)


@pytest.mark.feature("tools-stream")
async def test_tool_call_streaming(client: Client, case: Case) -> None:
    conv = conversation("Weather in Oslo? Use get_weather.")
    whole = await send(client, case, conv, Ask(tools=TOOLS))
    streamed = await send(client, case, conv, Ask(tools=TOOLS, stream=True))
    assert streamed.finish == "tool_calls"
    assert [(c.name, json.loads(c.arguments)) for c in streamed.calls] == [
        (c.name, json.loads(c.arguments)) for c in whole.calls
    ]
    valid_weather_call(streamed)


@pytest.mark.feature("parallel-tools")
async def test_parallel_tool_calls(client: Client, case: Case) -> None:
    conv = conversation("Call get_weather for Oslo and get_time for Oslo.")
    for stream in (False, True):
        reply = await send(client, case, conv, Ask(tools=TOOLS, stream=stream))
        assert [c.name for c in reply.calls] == ["get_weather", "get_time"]
        assert len({c.id for c in reply.calls}) == 2
        valid_weather_call(reply)
        assert isinstance(json.loads(reply.calls[1].arguments)["zone"], str)


@pytest.mark.feature("args-pieces")
async def test_arguments_arrive_in_many_pieces(client: Client, case: Case) -> None:
    case.need(ARGS_IN_PIECES)
    conv = conversation("Call get_weather for Oslo and get_time for Oslo.")
    reply = await send(client, case, conv, Ask(tools=TOOLS, stream=True))
    assert all(call.pieces >= 3 for call in reply.calls), [c.pieces for c in reply.calls]
    whole = await send(client, case, conv, Ask(tools=TOOLS))
    assert [c.arguments for c in reply.calls] == [c.arguments for c in whole.calls]


@pytest.mark.feature("tool-results")
async def test_tool_results_round_trip(client: Client, case: Case) -> None:
    conv = conversation("Call get_weather for Oslo and get_time for Oslo.")
    first = await send(client, case, conv, Ask(tools=TOOLS))
    client.add_turn(conv, first, RESULTS)
    for stream in (False, True):
        second = await send(client, case, conv, Ask(tools=TOOLS, stream=stream))
        assert second.finish == "stop" and not second.calls
        # The simulator quotes each result under the name of the call it answers: the results
        # reached it with the right role, ids/names and order.
        assert second.text.startswith("The get_weather tool returned: ")
        assert "The get_time tool returned: " in second.text
        assert '"temp_c"' in second.text and "21" in second.text and "09:41" in second.text


@pytest.mark.feature("reasoning")
async def test_reasoning_output(client: Client, case: Case) -> None:
    case.need(REASONING)
    for stream in (False, True):
        reply = await send(client, case, conversation(), Ask(thinking=True, stream=stream))
        assert reply.reasoning and reply.text
        assert reply.completion_tokens > len(reply.text.split())  # thinking is billed output


@pytest.mark.feature("reasoning-round-trip")
@pytest.mark.parametrize("stream", [False, True], ids=["whole", "streamed"])
async def test_thinking_survives_a_tool_turn(client: Client, case: Case, stream: bool) -> None:
    """The upstream signs its reasoning and refuses a tool turn whose signature is missing or
    altered (as Anthropic and Gemini 3 do); the client sends back what it received."""
    case.need(REASONING)
    conv = conversation("Weather in Oslo? Use get_weather.")
    ask = Ask(tools=TOOLS, thinking=True, stream=stream)
    first = await send(client, case, conv, ask)
    assert first.calls
    client.add_turn(conv, first, RESULTS)
    second = await send(client, case, conv, ask)
    assert second.text.startswith("The get_weather tool returned: ")
    # Control: the same turn with its reasoning tampered with is refused.
    tamper(conv.messages[-2])
    with pytest.raises(Failure) as refused:
        await send(client, case, conv, ask)
    assert refused.value.status == 400


def tamper(turn: dict[str, object]) -> None:
    """Alter every signature a stored assistant turn carries."""
    blocks = turn.get("thinking_blocks") or turn.get("content")
    for block in blocks if isinstance(blocks, list) else ():
        if isinstance(block, dict) and block.get("signature"):
            block["signature"] = "gemini:forged" if "gemini:" in block["signature"] else "forged"
    for call in turn.get("tool_calls") or ():  # type: ignore[attr-defined]
        google = (call.get("extra_content") or {}).get("google")
        if google:
            google["thought_signature"] = "forged"
