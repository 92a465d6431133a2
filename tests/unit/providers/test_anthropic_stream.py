"""Anthropic streaming events → canonical chunks (pure, golden streams cut at random places)."""

from __future__ import annotations

import json

import pytest

from pointsman.core.types import Usage
from pointsman.errors import (
    ContentFilteredError,
    UpstreamProtocolError,
    UpstreamUnavailableError,
)
from pointsman.providers.anthropic_stream import AnthropicStreamTranslator
from pointsman.providers.translated import TranslatedStream

from .wire import FakeResponse, arguments, deltas, events, golden, run

DEPLOYMENT = "anthropic/claude-x"


def translator(
    include_usage: bool = True, json_tool: str | None = None
) -> AnthropicStreamTranslator:
    return AnthropicStreamTranslator(
        "chatcmpl-1", 7, "claude-x", DEPLOYMENT, include_usage=include_usage, json_tool=json_tool
    )


def sse(*events_: dict[str, object]) -> bytes:
    return b"".join(
        b"event: " + str(e["type"]).encode() + b"\ndata: " + json.dumps(e).encode() + b"\n\n"
        for e in events_
    )


START = {"type": "message_start", "message": {"id": "m", "usage": {"input_tokens": 5}}}
STOP = {"type": "message_stop"}


@pytest.mark.parametrize("piece", [1, 7, 64, 100_000])
async def test_text_and_parallel_tool_calls_in_pieces(piece: int) -> None:
    chunks = run(translator(), await events(golden("anthropic_stream_tool_use.sse"), piece))
    first = chunks[0]["choices"][0]["delta"]
    assert first == {"role": "assistant", "content": "Okay, let me check"}
    text = "".join(d.get("content") or "" for d in deltas(chunks))
    assert text == "Okay, let me check the weather:"
    calls = [c for d in deltas(chunks) for c in d.get("tool_calls") or () if "id" in c]
    assert [(c["index"], c["id"], c["function"]["name"]) for c in calls] == [
        (0, "toolu_01T1x1fJ34qAmk2tNTrN7Up6", "get_weather"),
        (1, "toolu_02", "get_time"),
    ]
    args = arguments(chunks)
    assert json.loads(args[0]) == {"location": "Lisbon", "unit": "celsius"}
    assert json.loads(args[1]) == {"zone": "WET"}
    pieces = [c for d in deltas(chunks) for c in d.get("tool_calls") or () if c["index"] == 0]
    assert len(pieces) == 5  # the opening delta and four argument pieces (the empty one dropped)
    assert chunks[-2]["choices"][0]["finish_reason"] == "tool_calls"
    assert chunks[-1] == {
        "id": "chatcmpl-1",
        "object": "chat.completion.chunk",
        "created": 7,
        "model": "claude-x",
        "choices": [],
        "usage": {"prompt_tokens": 472, "completion_tokens": 89, "total_tokens": 561},
    }


async def test_thinking_streams_as_reasoning_and_arrives_signed() -> None:
    t = translator(include_usage=False)
    chunks = run(t, await events(golden("anthropic_stream_thinking.sse")))
    reasoning = "".join(d.get("reasoning_content") or "" for d in deltas(chunks))
    assert reasoning == "Let me work out 27 * 453: 27 * 400 = 10800, 27 * 53 = 1431."
    blocks = [b for d in deltas(chunks) for b in d.get("thinking_blocks") or ()]
    assert blocks == [
        {
            "type": "thinking",
            "thinking": reasoning,
            "signature": "EqQBCgIYAhIM1gbcDa9GJwZA2b3hGgxBdjrkzLoky3dl1pkiMOYds",
        },
        {"type": "redacted_thinking", "data": "EmwKAhgBEgy3va3pzix"},
    ]
    assert "".join(d.get("content") or "" for d in deltas(chunks)) == "27 * 453 = 12,231"
    assert t.finish_reason == "stop"
    assert t.usage == Usage(
        prompt_tokens=1050, completion_tokens=120, cached_tokens=1000, reasoning_tokens=96
    )
    assert all(c["choices"] for c in chunks)  # no usage chunk unless asked for


async def test_error_event_after_output_raises_typed_error() -> None:
    t = translator()
    pairs = await events(golden("anthropic_stream_overloaded.sse"))
    out: list[bytes] = []
    with pytest.raises(UpstreamUnavailableError, match="Overloaded"):
        for event, data in pairs:
            out += t.feed(event, data)
    assert json.loads(out[0])["choices"][0]["delta"]["content"] == "Partial"


async def test_cut_stream_is_an_unavailable_error_not_a_short_answer() -> None:
    data = golden("anthropic_stream_tool_use.sse")
    cut = data[: data.index(b"event: message_delta")]
    with pytest.raises(UpstreamUnavailableError, match="before it was complete"):
        run(translator(), await events(cut))


async def test_broken_event_json_is_a_protocol_error() -> None:
    data = sse(START) + b'event: content_block_delta\ndata: {"type": "content_block_del\n\n'
    with pytest.raises(UpstreamProtocolError, match="malformed"):
        run(translator(), await events(data))


async def test_ping_and_unknown_events_are_ignored() -> None:
    data = sse(
        START,
        {"type": "ping"},
        {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
        {"type": "future_event", "index": 0},
        {"type": "content_block_delta", "index": 0, "delta": {"type": "citations_delta"}},
        {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "hi"}},
        {
            "type": "message_delta",
            "delta": {"stop_reason": "max_tokens"},
            "usage": {"output_tokens": 1},
        },
        STOP,
    )
    chunks = run(translator(include_usage=False), await events(data))
    assert [d for d in deltas(chunks)] == [{"role": "assistant", "content": "hi"}, {}]
    assert chunks[-1]["choices"][0]["finish_reason"] == "length"


async def test_refusal_before_any_output_raises_content_filtered() -> None:
    data = sse(START, {"type": "message_delta", "delta": {"stop_reason": "refusal"}}, STOP)
    with pytest.raises(ContentFilteredError):
        run(translator(), await events(data))


async def test_stop_sequence_is_reported_on_the_closing_chunk() -> None:
    data = sse(
        START,
        {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": "a"}},
        {
            "type": "message_delta",
            "delta": {"stop_reason": "stop_sequence", "stop_sequence": "END"},
        },
        STOP,
    )
    chunks = run(translator(include_usage=False), await events(data))
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"
    assert chunks[-1]["choices"][0]["stop_reason"] == "END"


async def test_json_tool_mode_streams_the_tool_input_as_content() -> None:
    data = sse(
        START,
        {
            "type": "content_block_start",
            "index": 0,
            "content_block": {"type": "tool_use", "id": "t", "name": "json_response", "input": {}},
        },
        {
            "type": "content_block_delta",
            "index": 0,
            "delta": {"type": "input_json_delta", "partial_json": '{"a":'},
        },
        {
            "type": "content_block_delta",
            "index": 0,
            "delta": {"type": "input_json_delta", "partial_json": " 1}"},
        },
        {"type": "message_delta", "delta": {"stop_reason": "tool_use"}},
        STOP,
    )
    t = translator(include_usage=False, json_tool="json_response")
    chunks = run(t, await events(data))
    assert "".join(d.get("content") or "" for d in deltas(chunks)) == '{"a": 1}'
    assert t.finish_reason == "stop"


async def test_translated_stream_batches_per_network_read_and_releases() -> None:
    from pointsman.core.types import ChatRequest
    from pointsman.providers.base import ChatCall

    body = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}
    call = ChatCall(ChatRequest(model="m", messages=[]), body, "claude-x", DEPLOYMENT)
    response = FakeResponse(golden("anthropic_stream_tool_use.sse"), piece=100_000)
    stream = TranslatedStream(response, translator(), call)  # type: ignore[arg-type]
    batches = [batch async for batch in stream]
    assert len(batches) == 1 and len(batches[0]) > 5  # one read, one batch
    assert stream.finish_reason == "tool_calls"
    assert stream.usage == Usage(prompt_tokens=472, completion_tokens=89)
    assert response.released >= 1
