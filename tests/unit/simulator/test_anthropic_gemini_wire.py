"""The simulator's Anthropic and Gemini wire formats: request checks and rendering (pure)."""

from __future__ import annotations

import json
from typing import Any

import msgspec
import pytest

from pointsman.simulator.answer import Choice, ToolCall
from pointsman.simulator.replies import Reply, StreamReply
from pointsman.simulator.wire import anthropic_render, gemini_render
from pointsman.simulator.wire.anthropic_requests import MessagesRequest, sign
from pointsman.simulator.wire.anthropic_requests import to_prompt as anthropic_prompt
from pointsman.simulator.wire.gates import filter_output, malformable
from pointsman.simulator.wire.gemini_requests import GenerateRequest
from pointsman.simulator.wire.gemini_requests import sign as gemini_sign
from pointsman.simulator.wire.gemini_requests import to_prompt as gemini_prompt
from pointsman.simulator.wire.openai_requests import InvalidRequest


def messages_request(**body: Any) -> MessagesRequest:
    body.setdefault("model", "sim-instant")
    body.setdefault("max_tokens", 1000)
    body.setdefault("messages", [{"role": "user", "content": "hi"}])
    return msgspec.convert(body, MessagesRequest)


def test_anthropic_request_becomes_the_openai_shaped_prompt() -> None:
    parsed = anthropic_prompt(
        messages_request(
            system=[{"type": "text", "text": "Be brief.", "cache_control": {"type": "ephemeral"}}],
            messages=[
                {"role": "user", "content": [{"type": "text", "text": "weather?"}]},
                {
                    "role": "assistant",
                    "content": [
                        {"type": "tool_use", "id": "t1", "name": "get_weather", "input": {"c": 1}}
                    ],
                },
                {
                    "role": "user",
                    "content": [{"type": "tool_result", "tool_use_id": "t1", "content": "21C"}],
                },
            ],
            tools=[{"name": "get_weather", "input_schema": {"type": "object"}}],
            tool_choice={"type": "tool", "name": "get_weather", "disable_parallel_tool_use": True},
            stop_sequences=["END"],
            output_config={"format": {"type": "json_schema", "schema": {"type": "object"}}},
        ),
        48,
    )
    prompt = parsed.prompt
    assert prompt.messages == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "weather?"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "t1",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"c":1}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "t1", "content": "21C"},
    ]
    assert (prompt.tool_choice, prompt.forced_tool, prompt.parallel_tool_calls) == (
        "required",
        "get_weather",
        False,
    )
    assert prompt.stop == ["END"] and prompt.max_tokens is None  # 1000 is only a ceiling
    assert (prompt.response_format, prompt.schema) == ("json_schema", {"type": "object"})
    assert parsed.cached_tokens == 3  # "Be brief." marked with cache_control


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"temperature": 1.5}, "temperature"),
        ({"messages": [{"role": "system", "content": "x"}]}, "role"),
        ({"thinking": {"type": "enabled", "budget_tokens": 500}}, "budget_tokens"),
        ({"thinking": {"type": "enabled", "budget_tokens": 2000}}, "max_tokens"),
        (
            {
                "messages": [
                    {
                        "role": "user",
                        "content": [{"type": "tool_result", "tool_use_id": "nope", "content": "x"}],
                    }
                ]
            },
            "tool_use_id",
        ),
        (
            {
                "messages": [
                    {
                        "role": "assistant",
                        "content": [{"type": "thinking", "thinking": "t", "signature": "forged"}],
                    }
                ]
            },
            "signature",
        ),
    ],
)
def test_anthropic_checks_what_a_translator_could_get_wrong(
    body: dict[str, Any], message: str
) -> None:
    with pytest.raises(InvalidRequest, match=message):
        anthropic_prompt(messages_request(**body), 48)


def test_anthropic_tool_turn_must_keep_its_thinking_while_thinking() -> None:
    turn = [{"type": "tool_use", "id": "t1", "name": "f", "input": {}}]
    messages = [
        {"role": "user", "content": "q"},
        {"role": "assistant", "content": turn},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1", "content": "r"}]},
    ]
    thinking = {"type": "enabled", "budget_tokens": 1024}
    with pytest.raises(InvalidRequest, match="Expected `thinking`"):
        anthropic_prompt(
            messages_request(messages=messages, thinking=thinking, max_tokens=2000), 48
        )
    signed = {"type": "thinking", "thinking": "t", "signature": sign("t")}
    messages[1]["content"] = [signed, *turn]
    anthropic_prompt(messages_request(messages=messages, thinking=thinking, max_tokens=2000), 48)


def answer(choice: Choice, thinking: list[str] | None = None) -> anthropic_render.Answer:
    return anthropic_render.Answer("msg_1", "sim-instant", choice, 20, 5, thinking or [])


CALL = ToolCall("call_abc", "get_weather", '{"city":"Oslo"}', ['{"ci', 'ty":', '"Oslo"}'])


def test_anthropic_message_rendering() -> None:
    body = json.loads(anthropic_render.message(answer(Choice(0, [], "tool_calls", [CALL]), ["Hm"])))
    assert body["content"] == [
        {"type": "thinking", "thinking": "Hm", "signature": sign("Hm")},
        {"type": "tool_use", "id": "toolu_abc", "name": "get_weather", "input": {"city": "Oslo"}},
    ]
    assert body["stop_reason"] == "tool_use"
    assert body["usage"] == {
        "input_tokens": 15,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 5,
        "output_tokens": 1 + 4,
        "output_tokens_details": {"thinking_tokens": 1},
    }


def test_anthropic_stream_events_follow_the_documented_flow() -> None:
    head, paced, tail = anthropic_render.stream_events(answer(Choice(0, ["Hi", " there"], "stop")))
    names = [e.split(b"\n")[0].removeprefix(b"event: ").decode() for e in [*head, *paced, *tail]]
    assert names == [
        "message_start",
        "ping",
        "content_block_start",
        "content_block_delta",
        "content_block_delta",
        "content_block_stop",
        "message_delta",
        "message_stop",
    ]
    delta = json.loads(tail[0].split(b"data: ")[1])
    assert delta["delta"] == {"stop_reason": "end_turn", "stop_sequence": None}


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        (529, "overloaded_error"),
        (429, "rate_limit_error"),
        (401, "authentication_error"),
        (500, "api_error"),
    ],
)
def test_anthropic_error_shape(status: int, kind: str) -> None:
    reply = anthropic_render.error_reply(status, "m")
    assert json.loads(reply.body)["error"] == {"type": kind, "message": "m"}


def generate_request(**body: Any) -> GenerateRequest:
    body.setdefault("contents", [{"role": "user", "parts": [{"text": "hi"}]}])
    return msgspec.convert(body, GenerateRequest)


def test_gemini_request_becomes_the_openai_shaped_prompt() -> None:
    long_system = "word " * 40
    parsed = gemini_prompt(
        generate_request(
            systemInstruction={"parts": [{"text": long_system}]},
            contents=[
                {"role": "user", "parts": [{"text": "weather?"}]},
                {"role": "model", "parts": [{"functionCall": {"name": "f", "args": {"c": 1}}}]},
                {
                    "role": "user",
                    "parts": [{"functionResponse": {"name": "f", "response": {"result": "21C"}}}],
                },
            ],
            tools=[
                {
                    "functionDeclarations": [
                        {"name": "f", "parametersJsonSchema": {"type": "object"}}
                    ]
                }
            ],
            toolConfig={"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": ["f"]}},
            generationConfig={
                "maxOutputTokens": 5,
                "stopSequences": ["x"],
                "candidateCount": 2,
                "responseMimeType": "application/json",
            },
        ),
        48,
    )
    prompt = parsed.prompt
    assert prompt.messages[1:] == [
        {"role": "user", "content": "weather?"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_g1_0",
                    "type": "function",
                    "function": {"name": "f", "arguments": '{"c":1}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "call_g1_0", "content": "21C"},
    ]
    assert (prompt.forced_tool, prompt.max_tokens, prompt.n) == ("f", 5, 2)
    assert prompt.response_format == "json_object"
    assert parsed.cached_tokens >= 32  # a long system instruction is "implicitly cached"


@pytest.mark.parametrize(
    ("contents", "message"),
    [
        ([{"role": "function", "parts": [{"text": "x"}]}], "valid role"),
        ([{"role": "user", "parts": []}], "empty"),
        (
            [
                {"role": "model", "parts": [{"functionCall": {"name": "f", "args": {}}}]},
                {"role": "user", "parts": [{"functionResponse": {"name": "g", "response": {}}}]},
            ],
            "does not answer",
        ),
        (
            [
                {
                    "role": "model",
                    "parts": [
                        {"functionCall": {"name": "f", "args": {}}},
                        {"functionCall": {"name": "g", "args": {}}},
                    ],
                },
                {"role": "user", "parts": [{"functionResponse": {"name": "f", "response": {}}}]},
            ],
            "number of function response parts",
        ),
    ],
)
def test_gemini_checks_roles_and_function_turns(contents: list[Any], message: str) -> None:
    with pytest.raises(InvalidRequest, match=message):
        gemini_prompt(generate_request(contents=contents), 48)


def test_gemini_answered_call_needs_its_signature_while_thinking() -> None:
    call = {"functionCall": {"name": "f", "args": {}}}
    contents = [
        {"role": "user", "parts": [{"text": "q"}]},
        {"role": "model", "parts": [call]},
        {"role": "user", "parts": [{"functionResponse": {"name": "f", "response": {}}}]},
    ]
    config = {"thinkingConfig": {"thinkingBudget": 1024}}
    with pytest.raises(InvalidRequest, match="thought_signature"):
        gemini_prompt(generate_request(contents=contents, generationConfig=config), 48)
    contents[1]["parts"] = [{**call, "thoughtSignature": gemini_sign("f", {})}]
    assert gemini_prompt(generate_request(contents=contents, generationConfig=config), 48).thinking


def test_gemini_rendering_and_errors() -> None:
    result = gemini_render.Answer(
        "sim-instant", "r1", [Choice(0, ["Hi"], "content_filter")], 9, 0, []
    )
    body = json.loads(gemini_render.response(result))
    assert body["candidates"][0]["finishReason"] == "SAFETY"
    assert body["usageMetadata"] == {
        "promptTokenCount": 9,
        "candidatesTokenCount": 1,
        "totalTokenCount": 10,
    }
    _, paced, tail = gemini_render.stream_events(result)
    assert all(e.startswith(b"data: ") and e.endswith(b"\r\n\r\n") for e in [*paced, *tail])
    error = json.loads(gemini_render.error_reply(429, "slow", None).body)
    assert error == {"error": {"code": 429, "message": "slow", "status": "RESOURCE_EXHAUSTED"}}
    blocked = json.loads(gemini_render.blocked(result))
    assert blocked["promptFeedback"]["blockReason"] == "SAFETY" and "candidates" not in blocked


def test_output_filter_and_malformed_answers() -> None:
    (cut,) = filter_output([Choice(0, ["a", "b", "c", "d", "e", "f"], "stop")])
    assert (cut.tokens, cut.finish_reason) == (["a", "b"], "content_filter")

    def handler(state: Any, request: Any) -> Reply:
        return Reply(200, b'{"long": "enough body"}')

    def streamer(state: Any, request: Any) -> StreamReply:
        return StreamReply(
            [b"data: {}\n\n"], [b'data: {"n": %d}\n\n' % i for i in range(9)], [b"data: [DONE]\n\n"]
        )

    class Request:
        headers = {b"x-sim-malformed": b"yes"}

    reply = malformable(handler)(None, Request())  # type: ignore[arg-type]
    assert isinstance(reply, Reply) and reply.body == b'{"long": "e'
    stream = malformable(streamer)(None, Request())  # type: ignore[arg-type]
    assert isinstance(stream, StreamReply) and stream.tail == []
    assert stream.paced[-1].endswith(b"\n\n") and not stream.paced[-1].rstrip().endswith(b"}")
