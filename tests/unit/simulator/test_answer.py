"""What the simulated model answers: text, tools, JSON, follow-ups; deterministic."""

from __future__ import annotations

import json
from typing import Any

import pytest

from pointsman.core.tokens import estimate_text_tokens
from pointsman.simulator.answer import AnswerError, Prompt, ToolDef, answer

from .schema_check import errors

USER: list[dict[str, Any]] = [{"role": "user", "content": "Tell me about rivers."}]
WEATHER = ToolDef(
    "get_weather",
    {
        "type": "object",
        "properties": {"city": {"type": "string"}, "unit": {"enum": ["c", "f"]}},
        "required": ["city"],
    },
)
TIME = ToolDef("get_time", {"type": "object", "properties": {"zone": {"type": "string"}}})
SEARCH = ToolDef("search", {})


def text_of(prompt: Prompt, default_tokens: int = 48) -> str:
    content = answer(prompt, default_tokens)[0].content
    assert content is not None
    return content


def test_same_prompt_same_text_different_seed_or_prompt_differs() -> None:
    base = text_of(Prompt(USER))
    assert base == text_of(Prompt(USER))
    assert base != text_of(Prompt(USER, seed=1))
    assert base != text_of(Prompt([{"role": "user", "content": "Tell me about lakes."}]))


def test_default_length_and_max_tokens() -> None:
    [plain] = answer(Prompt(USER), 48)
    assert (len(plain.tokens), plain.finish_reason, plain.completion_tokens) == (48, "stop", 48)
    [capped] = answer(Prompt(USER, max_tokens=7), 48)
    assert (len(capped.tokens), capped.finish_reason) == (7, "length")
    [longer] = answer(Prompt(USER, max_tokens=100), 48)
    assert len(longer.tokens) == 100


def test_stop_sequence_truncates() -> None:
    full = text_of(Prompt(USER))
    stop = full.split()[5]
    [choice] = answer(Prompt(USER, stop=[stop]), 48)
    assert choice.finish_reason == "stop"
    assert choice.content == full[: full.index(stop)]
    assert choice.completion_tokens == len(choice.tokens)


def test_n_choices_differ_and_are_indexed() -> None:
    choices = answer(Prompt(USER, n=3), 48)
    assert [c.index for c in choices] == [0, 1, 2]
    assert len({c.content for c in choices}) == 3
    assert choices[0].content == text_of(Prompt(USER))


def test_logprobs_follow_the_hard_word() -> None:
    [easy] = answer(Prompt(USER, logprobs=True, top_logprobs=1), 48)
    hard_prompt = [{"role": "user", "content": "A hard question about rivers."}]
    [hard] = answer(Prompt(hard_prompt, logprobs=True), 48)
    assert easy.logprobs is not None and hard.logprobs is not None
    assert [item.token for item in easy.logprobs] == easy.tokens
    assert max(item.logprob for item in hard.logprobs) < min(i.logprob for i in easy.logprobs)
    assert answer(Prompt(USER), 48)[0].logprobs is None


def say(text: str) -> list[dict[str, Any]]:
    return [{"role": "user", "content": text}]


@pytest.mark.parametrize(
    ("said", "kwargs", "called"),
    [
        ("use get_time and get_weather", {}, ["get_time", "get_weather"]),
        ("get_weather then get_time", {}, ["get_weather", "get_time"]),
        ("no tool named here", {}, ["get_weather"]),  # the first tool
        ("get_time please", {"tool_choice": "required"}, ["get_time"]),
        ("get_time please", {"forced_tool": "search"}, ["search"]),
        ("get_time and search", {"parallel_tool_calls": False}, ["get_time"]),
        ("my_get_time_x is not a name", {}, ["get_weather"]),  # whole names only
        ("get_time please", {"tool_choice": "none"}, []),
    ],
)
def test_tool_choice(said: str, kwargs: dict[str, Any], called: list[str]) -> None:
    prompt = Prompt(say(said), tools=[WEATHER, TIME, SEARCH], **kwargs)
    [choice] = answer(prompt, 48)
    assert [call.name for call in choice.tool_calls] == called
    if called:
        assert choice.finish_reason == "tool_calls" and choice.content is None
        for call in choice.tool_calls:
            assert call.id.startswith("call_")
            assert "".join(call.pieces) == call.arguments
            assert isinstance(json.loads(call.arguments), dict)
        tokens = sum(estimate_text_tokens(call.arguments) for call in choice.tool_calls)
        assert choice.completion_tokens == tokens
    else:
        assert choice.finish_reason == "stop" and choice.content


def test_tool_arguments_follow_the_schema_and_are_deterministic() -> None:
    prompt = Prompt(say("get_weather"), tools=[WEATHER])
    first = answer(prompt, 48)[0].tool_calls[0]
    assert errors(json.loads(first.arguments), WEATHER.parameters) == []
    assert answer(prompt, 48)[0].tool_calls[0] == first


def test_forced_unknown_tool_is_an_error() -> None:
    with pytest.raises(AnswerError) as caught:
        answer(Prompt(USER, tools=[WEATHER], forced_tool="nope"), 48)
    assert caught.value.param == "tool_choice"


def test_after_a_tool_result_the_answer_quotes_it() -> None:
    messages: list[dict[str, Any]] = [
        *say("get_weather for Oslo"),
        {
            "role": "assistant",
            "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "get_weather"}}],
        },
        {"role": "tool", "tool_call_id": "c1", "content": "sunny, 21 degrees"},
    ]
    [choice] = answer(Prompt(messages, tools=[WEATHER]), 48)
    assert choice.finish_reason == "stop"
    assert choice.content is not None
    assert choice.content.startswith("The get_weather tool returned: sunny, 21 degrees.")
    assert len(choice.tokens) == 48


def test_json_object_and_json_schema_answers() -> None:
    [as_object] = answer(Prompt(USER, response_format="json_object"), 48)
    assert isinstance(json.loads(as_object.content or ""), dict)
    assert as_object.completion_tokens == estimate_text_tokens(as_object.content or "")
    schema = {"type": "array", "items": {"type": "integer"}, "minItems": 2}
    [as_schema] = answer(Prompt(USER, response_format="json_schema", schema=schema), 48)
    assert errors(json.loads(as_schema.content or ""), schema) == []
    bad = {"$ref": "#/nowhere"}
    with pytest.raises(AnswerError):
        answer(Prompt(USER, response_format="json_schema", schema=bad), 48)


def test_content_parts_count_as_text() -> None:
    parts = [{"role": "user", "content": [{"type": "text", "text": "call get_time"}]}]
    [choice] = answer(Prompt(parts, tools=[WEATHER, TIME]), 48)
    assert [call.name for call in choice.tool_calls] == ["get_time"]
