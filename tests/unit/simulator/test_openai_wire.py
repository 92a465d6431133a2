"""OpenAI wire rendering and request validation (pure, no sockets)."""

from __future__ import annotations

import json
from typing import Any

import msgspec
import pytest

from pointsman.simulator.answer import Choice, Prompt, ToolDef, answer
from pointsman.simulator.text import TokenLogprob
from pointsman.simulator.wire import openai_render as render
from pointsman.simulator.wire.openai_requests import (
    ChatRequest,
    InvalidRequest,
    embedding_inputs,
    to_prompt,
)

USER: list[dict[str, Any]] = [{"role": "user", "content": "hi"}]


def expected_completion(choice: Choice, prompt_tokens: int) -> dict[str, Any]:
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 7,
        "model": "m",
        "system_fingerprint": "pointsman-simulated",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": choice.content, "refusal": None},
                "logprobs": None,
                "finish_reason": choice.finish_reason,
            }
        ],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": choice.completion_tokens,
            "total_tokens": prompt_tokens + choice.completion_tokens,
        },
    }


@pytest.mark.parametrize("content", ["Plain words.", 'quotes " and \\ and \n and é ✓'])
def test_fast_template_matches_the_general_encoding(content: str) -> None:
    choice = Choice(0, [content], "stop")
    body = render.completion("chatcmpl-1", 7, "m", [choice], 9, 1)
    assert body == msgspec.json.encode(expected_completion(choice, 9))


def test_completion_with_tools_and_logprobs() -> None:
    prompt = Prompt(USER, tools=[ToolDef("f", {"type": "object"})])
    [choice] = answer(prompt, 48)
    body = json.loads(render.completion("id", 1, "m", [choice], 5, choice.completion_tokens))
    message = body["choices"][0]["message"]
    assert message["content"] is None
    assert message["tool_calls"][0]["function"] == {"name": "f", "arguments": "{}"}
    scored = Choice(0, ["a"], "stop", logprobs=[TokenLogprob("a", -0.5, (("a", -0.5),))])
    body = json.loads(render.completion("id", 1, "m", [scored], 5, 1))
    entry = body["choices"][0]["logprobs"]["content"][0]
    assert entry == {
        "token": "a",
        "logprob": -0.5,
        "bytes": [97],
        "top_logprobs": [{"token": "a", "logprob": -0.5, "bytes": [97]}],
    }


def events(raw: list[bytes]) -> list[Any]:
    out = []
    for event in raw:
        assert event.startswith(b"data: ") and event.endswith(b"\n\n")
        data = event[6:-2]
        out.append(data.decode() if data == b"[DONE]" else json.loads(data))
    return out


def test_stream_events_order_and_usage() -> None:
    choices = answer(Prompt(USER, n=2, max_tokens=3), 48)
    head, paced, tail = render.stream_events("id", 1, "m", choices, 5, 6, include_usage=True)
    head_e, paced_e, tail_e = events(head), events(paced), events(tail)
    assert [e["choices"][0]["delta"]["role"] for e in head_e] == ["assistant", "assistant"]
    assert [e["choices"][0]["index"] for e in paced_e] == [0, 1, 0, 1, 0, 1]  # interleaved
    assert all(e["usage"] is None for e in head_e + paced_e + tail_e[:2])
    assert [e["choices"][0]["finish_reason"] for e in tail_e[:2]] == ["length", "length"]
    assert tail_e[2]["choices"] == [] and tail_e[2]["usage"]["total_tokens"] == 11
    assert tail_e[3] == "[DONE]"
    text = "".join(
        e["choices"][0]["delta"]["content"] for e in paced_e if e["choices"][0]["index"] == 0
    )
    assert text == choices[0].content


def test_stream_events_without_usage_have_no_usage_key() -> None:
    choices = answer(Prompt(USER, max_tokens=2), 48)
    head, paced, tail = render.stream_events("id", 1, "m", choices, 5, 2, include_usage=False)
    assert all("usage" not in e for e in events(head + paced + tail[:-1]))
    assert events(tail)[-1] == "[DONE]"


def test_streamed_tool_call_deltas() -> None:
    prompt = Prompt(
        USER, tools=[ToolDef("lookup", {"type": "object", "properties": {"q": {"type": "string"}}})]
    )
    choices = answer(prompt, 48)
    head, paced, tail = render.stream_events("id", 1, "m", choices, 5, 3, include_usage=False)
    assert events(head)[0]["choices"][0]["delta"]["content"] is None
    deltas = [e["choices"][0]["delta"]["tool_calls"][0] for e in events(paced)]
    assert deltas[0] == {
        "index": 0,
        "id": choices[0].tool_calls[0].id,
        "type": "function",
        "function": {"name": "lookup", "arguments": ""},
    }
    assert all(set(d) == {"index", "function"} for d in deltas[1:])
    arguments = "".join(d["function"]["arguments"] for d in deltas)
    assert json.loads(arguments) == json.loads(choices[0].tool_calls[0].arguments)
    assert events(tail)[0]["choices"][0]["finish_reason"] == "tool_calls"


def chat(**fields: Any) -> ChatRequest:
    return msgspec.convert({"model": "m", "messages": USER, **fields}, ChatRequest)


def test_to_prompt_reads_the_fields() -> None:
    prompt = to_prompt(
        chat(
            max_completion_tokens=9,
            max_tokens=99,
            stop="x",
            n=2,
            seed=3,
            logprobs=True,
            top_logprobs=4,
            tools=[{"type": "function", "function": {"name": "f"}}],
            tool_choice={"type": "function", "function": {"name": "f"}},
            parallel_tool_calls=False,
            response_format={"type": "json_schema", "json_schema": {"schema": {"type": "object"}}},
        )
    )
    assert (prompt.max_tokens, prompt.stop, prompt.n, prompt.seed) == (9, ["x"], 2, 3)
    assert (prompt.logprobs, prompt.top_logprobs) == (True, 4)
    assert prompt.tools == [ToolDef("f", {})]
    assert (prompt.tool_choice, prompt.forced_tool, prompt.parallel_tool_calls) == (
        "required",
        "f",
        False,
    )
    assert (prompt.response_format, prompt.schema) == ("json_schema", {"type": "object"})


@pytest.mark.parametrize(
    ("fields", "param"),
    [
        ({"messages": []}, "messages"),
        ({"messages": [{"content": "no role"}]}, "messages[0].role"),
        ({"n": 0}, "n"),
        ({"max_tokens": 0}, "max_tokens"),
        ({"max_completion_tokens": -1}, "max_completion_tokens"),
        ({"stop": ["a", "b", "c", "d", "e"]}, "stop"),
        ({"top_logprobs": 21}, "top_logprobs"),
        ({"tools": [{"type": "retrieval"}]}, "tools[0]"),
        ({"tools": [{"type": "function", "function": {}}]}, "tools[0].function"),
        ({"tool_choice": "sometimes"}, "tool_choice"),
        ({"tool_choice": {"type": "function"}}, "tool_choice"),
        ({"response_format": {"type": "xml"}}, "response_format"),
        ({"response_format": {"type": "json_schema"}}, "response_format"),
    ],
)
def test_to_prompt_rejects_nonsense(fields: dict[str, Any], param: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        to_prompt(chat(**fields))
    assert caught.value.param == param


@pytest.mark.parametrize(
    ("raw", "inputs"),
    [
        ("one", ["one"]),
        (["a", "b"], ["a", "b"]),
        ([1, 2, 3], [[1, 2, 3]]),
        ([[1], [2, 3]], [[1], [2, 3]]),
    ],
)
def test_embedding_inputs(raw: Any, inputs: list[Any]) -> None:
    assert embedding_inputs(raw) == inputs


@pytest.mark.parametrize("raw", ["", [], [""], [[]], [1, "a"], [True], None, 5, [{"a": 1}]])
def test_embedding_inputs_rejects(raw: Any) -> None:
    with pytest.raises(InvalidRequest):
        embedding_inputs(raw)
