"""Conformance: upstream errors, content filters and malformed answers reach the client as a
clear error in its own wire format, with the right status, quickly, never as a hang or a 500."""

from __future__ import annotations

import time

import pytest

from tests.conformance.cases import Case
from tests.conformance.clients import Ask, Client, Failure
from tests.conformance.prompts import conversation, send

pytestmark = pytest.mark.asyncio(loop_scope="session")

# What each inbound format calls a kind of failure: (OpenAI error code, Anthropic error type).
KINDS = {
    "bad_request": ("upstream_bad_request", "invalid_request_error"),
    "rate_limited": ("upstream_rate_limited", "rate_limit_error"),
    "context": ("context_length_exceeded", "invalid_request_error"),
    "filtered": ("content_filter", "invalid_request_error"),
}
# When the attempt loop gives up on a failed upstream, the client gets a 502/503/504 whose
# message names the deployment and the cause (the reliability layer words the status).
GAVE_UP = {
    "openai": {"no_healthy_deployment", "upstream_unavailable", "upstream_auth_failed",
               "upstream_protocol_error", "upstream_timeout"},
    "anthropic": {"overloaded_error", "api_error", "timeout_error"},
}  # fmt: skip


def kind(client: Client, name: str) -> str:
    openai_code, anthropic_type = KINDS[name]
    return openai_code if client.name == "openai" else anthropic_type


def gave_up(error: Failure, client: Client, case: Case, variant: str, *causes: str) -> None:
    """A clear upstream failure: 5xx, the client's kind, the deployment and cause named."""
    assert error.status in (502, 503, 504), error
    assert error.kind in GAVE_UP[client.name], error
    assert case.alias(variant) in error.message, error
    assert any(cause in error.message for cause in causes), error


async def failure(client: Client, case: Case, variant: str, ask: Ask | None = None) -> Failure:
    with pytest.raises(Failure) as caught:
        await send(client, case, conversation(), ask, variant=variant)
    assert caught.value.status != 500, caught.value  # never an unhandled gateway error
    return caught.value


@pytest.mark.feature("error-400")
async def test_upstream_bad_request(client: Client, case: Case) -> None:
    for stream in (False, True):
        error = await failure(client, case, "fault-400", Ask(stream=stream))
        assert (error.status, error.kind) == (400, kind(client, "bad_request"))


@pytest.mark.feature("error-auth")
async def test_upstream_refuses_our_key(client: Client, case: Case) -> None:
    error = await failure(client, case, "badkey")
    gave_up(error, client, case, "badkey", "credentials")
    assert "wrong" not in error.message  # the key itself is never echoed


@pytest.mark.feature("error-429")
async def test_upstream_rate_limit(client: Client, case: Case) -> None:
    for stream in (False, True):
        error = await failure(client, case, "fault-429", Ask(stream=stream))
        assert (error.status, error.kind) == (429, kind(client, "rate_limited"))
        assert error.headers.get("retry-after") == "1"  # the simulator's Retry-After


@pytest.mark.feature("error-5xx")
@pytest.mark.parametrize("status", [500, 503, 529])
async def test_upstream_unavailable(client: Client, case: Case, status: int) -> None:
    for stream in (False, True):
        error = await failure(client, case, f"fault-{status}", Ask(stream=stream))
        gave_up(error, client, case, f"fault-{status}", "simulated", f"HTTP {status}")


@pytest.mark.feature("context-window")
async def test_prompt_too_long(client: Client, case: Case) -> None:
    error = await failure(client, case, "narrow")
    assert (error.status, error.kind) == (400, kind(client, "context"))


@pytest.mark.feature("filter-prompt")
async def test_content_filter_on_the_prompt(client: Client, case: Case) -> None:
    for stream in (False, True):
        error = await failure(client, case, "filter-prompt", Ask(stream=stream))
        assert (error.status, error.kind) == (400, kind(client, "filtered"))


@pytest.mark.feature("filter-output")
async def test_content_filter_on_the_answer(client: Client, case: Case) -> None:
    full = await send(client, case, conversation())
    for stream in (False, True):
        reply = await send(client, case, conversation(), Ask(stream=stream), "filter-output")
        assert reply.finish == "content_filter"
        assert reply.text and full.text.startswith(reply.text) and reply.text != full.text


@pytest.mark.feature("truncated-json")
async def test_truncated_json_answer(client: Client, case: Case) -> None:
    error = await failure(client, case, "malformed")
    gave_up(error, client, case, "malformed", "malformed")


@pytest.mark.feature("broken-sse")
async def test_broken_stream(client: Client, case: Case) -> None:
    error = await failure(client, case, "malformed", Ask(stream=True))
    assert error.mid_stream, error  # the answer had started: the error ends the stream
    assert "malformed" in error.message


@pytest.mark.feature("disconnect")
async def test_connection_lost(client: Client, case: Case) -> None:
    error = await failure(client, case, "disconnect", Ask(stream=True))
    assert error.mid_stream, error  # cut after some tokens: an error event ends the stream
    assert "connection lost" in error.message or "ended before" in error.message
    error = await failure(client, case, "disconnect")
    gave_up(error, client, case, "disconnect", "connection", "Disconnected")


@pytest.mark.feature("hang")
async def test_upstream_that_never_answers(client: Client, case: Case) -> None:
    started = time.perf_counter()
    for stream in (False, True):
        error = await failure(client, case, "hang", Ask(stream=stream))
        gave_up(error, client, case, "hang", "timed out", "timeout")
    assert time.perf_counter() - started < 3  # the provider's 0.3 s read timeout, twice
