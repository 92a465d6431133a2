"""Conformance: conversations, limits, stop sequences, usage and JSON, on every protocol."""

from __future__ import annotations

import json

import pytest

from pointsman.core.tokens import estimate_text_tokens
from tests.conformance.cases import CACHED_TOKENS, Case
from tests.conformance.clients import ANTHROPIC_MAX_TOKENS, Ask, Client, Reply
from tests.conformance.prompts import (
    ANSWER_SCHEMA,
    LONG_SYSTEM,
    SYSTEM,
    conversation,
    reference,
    send,
    words,
)

pytestmark = pytest.mark.asyncio(loop_scope="session")


def natural_end(reply: Reply, client: Client) -> None:
    """The answer stopped by itself, or exactly at the client's token limit."""
    if reply.finish == "length":
        assert client.name == "anthropic"  # Anthropic clients always send max_tokens
        assert reply.completion_tokens == ANTHROPIC_MAX_TOKENS
    else:
        assert reply.finish == "stop"


@pytest.mark.feature("chat")
async def test_plain_chat(client: Client, case: Case) -> None:
    reply = await send(client, case, conversation())
    assert reply.text and not reply.calls
    natural_end(reply, client)


@pytest.mark.feature("stream")
async def test_streaming_text(client: Client, case: Case) -> None:
    whole = await send(client, case, conversation())
    streamed = await send(client, case, conversation(), Ask(stream=True))
    assert streamed.text == whole.text
    assert streamed.text_chunks == len(whole.text.split())  # one chunk per simulated token
    assert streamed.finish == whole.finish


@pytest.mark.feature("system")
async def test_system_prompt(client: Client, case: Case) -> None:
    with_system = await send(client, case, conversation(system=SYSTEM))
    expected = await reference(client, conversation(system=SYSTEM))
    other = await send(client, case, conversation(system="Answer in riddles."))
    assert words(with_system) == words(expected)  # the upstream saw this system prompt
    assert words(with_system) != words(other)  # and it matters


@pytest.mark.feature("multi-turn")
async def test_multi_turn_history(client: Client, case: Case) -> None:
    conv = conversation("Name a river.", system=SYSTEM)
    conv.messages += [
        {"role": "assistant", "content": "The Amber river."},
        {"role": "user", "content": "And a mountain near it?"},
    ]
    reply = await send(client, case, conv)
    expected = await reference(client, conv)
    last_only = await send(client, case, conversation("And a mountain near it?", system=SYSTEM))
    assert words(reply) == words(expected)
    assert words(reply) != words(last_only)


@pytest.mark.feature("max-tokens")
async def test_max_tokens_gives_length(client: Client, case: Case) -> None:
    reply = await send(client, case, conversation(), Ask(max_tokens=5))
    assert reply.finish == "length"
    assert reply.completion_tokens == 5
    assert len(reply.text.split()) == 5


@pytest.mark.feature("stop")
async def test_stop_sequence_cuts_the_answer(client: Client, case: Case) -> None:
    full = await send(client, case, conversation())
    stop = next(w.strip(".,") for w in full.text.split()[6:] if len(w.strip(".,")) >= 4)
    expected = full.text[: full.text.find(stop)]
    for stream in (False, True):
        reply = await send(client, case, conversation(), Ask(stop=[stop], stream=stream))
        assert reply.text == expected
        assert reply.finish == "stop"
        if case.upstream.name == "anthropic":  # only Anthropic says which sequence matched
            assert reply.stop_sequence == stop


@pytest.mark.feature("usage")
async def test_usage(client: Client, case: Case) -> None:
    reply = await send(client, case, conversation(system=SYSTEM))
    expected = await reference(client, conversation(system=SYSTEM))
    assert reply.prompt_tokens == expected.prompt_tokens > 0
    assert reply.completion_tokens == len(reply.text.split())


@pytest.mark.feature("usage-stream")
async def test_usage_when_streaming(client: Client, case: Case) -> None:
    whole = await send(client, case, conversation(system=SYSTEM))
    streamed = await send(client, case, conversation(system=SYSTEM), Ask(stream=True))
    assert (streamed.prompt_tokens, streamed.completion_tokens) == (
        whole.prompt_tokens,
        whole.completion_tokens,
    )
    assert streamed.completion_tokens > 0


@pytest.mark.feature("cached-usage")
async def test_cached_tokens_are_part_of_prompt_tokens(client: Client, case: Case) -> None:
    case.need(CACHED_TOKENS)
    conv = conversation(system=LONG_SYSTEM)
    conv.cache_system = True  # Anthropic needs the marker; Gemini caches long prefixes itself
    expected = await reference(client, conv)
    for stream in (False, True):
        reply = await send(client, case, conv, Ask(stream=stream))
        assert reply.cached_tokens == estimate_text_tokens(LONG_SYSTEM)
        assert reply.prompt_tokens == expected.prompt_tokens  # cache reads included


@pytest.mark.feature("json")
async def test_json_schema_answer(client: Client, case: Case) -> None:
    for stream in (False, True):
        reply = await send(
            client, case, conversation(), Ask(json_schema=ANSWER_SCHEMA, stream=stream)
        )
        value = json.loads(reply.text)
        assert set(value) == {"city", "temperature", "sunny"}
        assert isinstance(value["temperature"], int) and isinstance(value["sunny"], bool)
        assert reply.finish == "stop" and not reply.calls
