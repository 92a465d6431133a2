"""Cascades: each scorer, accept vs escalate, streams for streaming clients, every step's cost."""

from __future__ import annotations

import json
import math
from typing import Any

import msgspec
import pytest

from pointsman.core.pipeline import RequestContext
from pointsman.core.types import ChatRequest, Usage
from pointsman.errors import UpstreamUnavailableError
from pointsman.governance.accounting import RESERVE, STEPS, Pricing
from pointsman.governance.catalog import Catalog
from pointsman.providers.base import ChatCall, ChatResult
from pointsman.routing.cascade import (
    agreement_score,
    client_body,
    logprob_score,
    replay,
    schema_score,
    verdict_score,
)
from pointsman.routing.record import HEADER
from tests.unit.reliability.fakes import Scripted, Step

from .parts import build, chat


def completion(*texts: str, logprobs: list[float] | None = None) -> dict[str, Any]:
    choices = [
        {
            "index": i,
            "message": {"role": "assistant", "content": text},
            "finish_reason": "stop",
            "logprobs": None
            if logprobs is None
            else {"content": [{"token": "t", "logprob": v} for v in logprobs]},
        }
        for i, text in enumerate(texts)
    ]
    return {"id": "c1", "created": 1, "model": "m", "choices": choices, "usage": {"total": 1}}


def request(**fields: Any) -> ChatRequest:
    body = {"model": "a", "messages": [{"role": "user", "content": "q"}], **fields}
    return msgspec.convert(body, ChatRequest)


# -- scorers ----------------------------------------------------------------------------------


def test_logprob_score_is_the_geometric_mean_probability() -> None:
    assert logprob_score(completion("a b", logprobs=[-0.1, -0.3])) == pytest.approx(math.exp(-0.2))
    assert logprob_score(completion("a")) is None  # no logprobs: cannot judge


def test_schema_score() -> None:
    schema = {
        "type": "object",
        "properties": {"n": {"type": "integer"}},
        "required": ["n"],
    }
    fmt = {"type": "json_schema", "json_schema": {"name": "x", "schema": schema}}
    assert schema_score(completion('{"n": 3}'), request(response_format=fmt)) == 1.0
    assert schema_score(completion('{"n": "3"}'), request(response_format=fmt)) == 0.0
    assert schema_score(completion("not json"), request(response_format=fmt)) == 0.0
    as_object = request(response_format={"type": "json_object"})
    assert schema_score(completion("[1]"), as_object) == 0.0
    assert schema_score(completion("{}"), as_object) == 1.0
    assert schema_score(completion("{}"), request()) is None


def test_agreement_score() -> None:
    assert agreement_score(completion("Paris is the capital", "the capital is Paris")) == 1.0
    assert agreement_score(completion("yes it is", "no it is not")) == pytest.approx(2 / 5)
    assert agreement_score(completion("one sample")) is None


def test_verdict_score() -> None:
    assert verdict_score(completion('{"score": 0.75}')) == 0.75
    assert verdict_score(completion('{"score": 3}')) is None
    assert verdict_score(completion("great answer")) is None


def test_client_gets_the_shape_it_asked_for() -> None:
    answer = completion("one", "two", logprobs=[-0.1])
    shaped = client_body(answer, request())
    assert len(shaped["choices"]) == 1 and shaped["choices"][0]["logprobs"] is None
    kept = client_body(answer, request(logprobs=True, n=2))
    assert len(kept["choices"]) == 2 and kept["choices"][0]["logprobs"] is not None


async def test_replay_streams_a_whole_answer_as_chunks() -> None:
    text = "one two three four five six seven eight nine ten eleven"
    stream = replay(completion(text), Usage(prompt_tokens=3, completion_tokens=11), True)
    batches = [batch async for batch in stream]
    chunks = [json.loads(p) for batch in batches for p in batch]
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    assert all(c["object"] == "chat.completion.chunk" for c in chunks)
    content = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks if c["choices"])
    assert content == text
    assert chunks[-2]["choices"][0]["finish_reason"] == "stop"
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"] == {"total": 1}
    assert stream.usage == Usage(prompt_tokens=3, completion_tokens=11)
    assert stream.finish_reason == "stop"


# -- the cascade through the router and the attempt loop ---------------------------------------


class Answering(Scripted):
    """Answers like the simulator: low logprobs for prompts containing "hard"."""

    async def chat(self, call: ChatCall) -> ChatResult:
        await self._begin(call.model)
        prompt = str(call.request.messages[-1].content)
        low = "hard" in prompt
        values = [-1.8, -2.2, -1.1] if low else [-0.1, -0.2, -0.05]
        n = call.request.n or 1
        texts = [f"{call.model} says {i}" for i in range(n)]
        if call.body.get("response_format"):
            texts = ['{"score": 0.9}'] * n
        body = completion(*texts, logprobs=values if call.request.logprobs else None)
        usage = Usage(prompt_tokens=100, completion_tokens=50 * n)
        return ChatResult(json.dumps(body).encode(), usage, "stop")


def cascade(scorer: str = "logprob", **extra: Any) -> dict[str, Any]:
    return {
        "fast": [{"provider": "p", "model": "sim-small"}],
        "smart": [{"provider": "p", "model": "sim-large"}],
        "judge": [{"provider": "p", "model": "sim-instant"}],
        "auto": {
            "policy": {"kind": "cascade", "tiers": ["fast", "smart"], "scorer": scorer, **extra}
        },
    }


PRICING = Pricing(Catalog.load())


async def test_a_confident_cheap_answer_is_accepted() -> None:
    provider = Answering("p")
    parts = build(cascade(), {"p": provider})
    ctx = chat("auto", "what is two plus two?")
    await parts.run(ctx)
    assert provider.log.calls == ["sim-small"]
    assert ctx.deployment is not None and ctx.deployment.name == "p/sim-small"
    assert isinstance(ctx.result, ChatResult)
    body = json.loads(ctx.result.body)
    assert body["choices"][0]["logprobs"] is None  # the client did not ask for them
    assert (
        "steps=fast:0." in ctx.response_headers[HEADER]
        and ":accepted" in ctx.response_headers[HEADER]
    )
    assert STEPS not in ctx.notes  # nothing billed besides the answer
    small = PRICING.actual(ctx)
    assert small > 0


async def test_an_unsure_cheap_answer_escalates_and_both_steps_are_billed() -> None:
    provider = Answering("p")
    parts = build(cascade(), {"p": provider})
    ctx = chat("auto", "a hard question")
    await parts.run(ctx)
    assert provider.log.calls == ["sim-small", "sim-large"]
    assert ctx.deployment is not None and ctx.deployment.name == "p/sim-large"
    header = ctx.response_headers[HEADER]
    assert ":escalated" in header and "smart:-:final" in header
    assert ctx.response_headers["x-pointsman-attempts"] == "2"
    steps = ctx.notes[STEPS]
    assert [(d.name, u.completion_tokens) for d, u in steps] == [("p/sim-small", 50)]
    catalog = Catalog.load()
    large = catalog.lookup("sim-large")
    small = catalog.lookup("sim-small")
    assert large is not None and small is not None
    usage = Usage(prompt_tokens=100, completion_tokens=50)
    expected = (large.input * 100 + large.output * 50) + (
        small.input * 100 + small.output * 50
    )  # micro-USD: prices are USD per million tokens
    assert PRICING.actual(ctx) == round(expected)
    assert ctx.usage == usage


async def test_the_reservation_covers_every_tier() -> None:
    parts = build(cascade(), {"p": Answering("p")})
    ctx = chat("auto", "q", max_tokens=100)
    parts.router.resolve(ctx, "auto")
    assert [d.name for d in ctx.candidates] == ["p/sim-small"]
    assert [[d.name for d in group] for group, *_ in ctx.notes[RESERVE]] == [["p/sim-large"]]
    only_first = RequestContext("r", "chat", ctx.body, {}, chat=ctx.chat)
    only_first.candidates = ctx.candidates
    assert PRICING.estimate(ctx) > PRICING.estimate(only_first) * 10


async def test_streaming_clients_get_the_accepted_answer_as_a_stream() -> None:
    parts = build(cascade(), {"p": Answering("p")})
    ctx = chat("auto", "easy", stream=True, stream_options={"include_usage": True})
    await parts.run(ctx)
    assert ctx.result is None and ctx.stream is not None
    chunks = [json.loads(p) for batch in [b async for b in ctx.stream] for p in batch]
    text = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks if c["choices"])
    assert text == "sim-small says 0"
    assert chunks[-1]["usage"] is not None


async def test_streaming_clients_get_the_escalated_tier_streamed() -> None:
    provider = Answering("p")
    parts = build(cascade(), {"p": provider})
    ctx = chat("auto", "hard one", stream=True)
    await parts.run(ctx)
    assert ctx.stream is not None and ctx.deployment is not None
    assert ctx.deployment.name == "p/sim-large"
    batches = [b async for b in ctx.stream]
    assert batches  # the scripted provider's own stream
    await ctx.stream.aclose()


async def test_a_failing_cheap_tier_escalates() -> None:
    provider = Answering("p", {"sim-small": [Step(error=UpstreamUnavailableError("x"))]})
    parts = build(cascade(), {"p": provider})
    ctx = chat("auto", "easy")
    await parts.run(ctx)
    assert ctx.deployment is not None and ctx.deployment.name == "p/sim-large"
    assert "fast:-:failed" in ctx.response_headers[HEADER]


async def test_agreement_asks_for_two_samples() -> None:
    provider = Answering("p")
    parts = build(cascade("agreement", threshold=0.5), {"p": provider})
    ctx = chat("auto", "easy")
    await parts.run(ctx)
    # "sim-small says 0" vs "sim-small says 1": 3 of 5 words shared -> 0.6 >= 0.5
    assert ctx.deployment is not None and ctx.deployment.name == "p/sim-small"
    assert isinstance(ctx.result, ChatResult)
    assert len(json.loads(ctx.result.body)["choices"]) == 1
    assert ctx.usage == Usage(prompt_tokens=100, completion_tokens=100)  # both samples billed


async def test_verifier_judges_and_its_call_is_billed() -> None:
    provider = Answering("p")
    parts = build(cascade("verifier", verifier="judge", threshold=0.8), {"p": provider})
    ctx = chat("auto", "easy")
    await parts.run(ctx)
    assert provider.log.calls == ["sim-small", "sim-instant"]
    assert ctx.deployment is not None and ctx.deployment.name == "p/sim-small"
    assert [d.name for d, _ in ctx.notes[STEPS]] == ["p/sim-instant"]
    assert "judge:0.900:judge" in ctx.response_headers[HEADER]
    strict = build(cascade("verifier", verifier="judge", threshold=0.95), {"p": Answering("p")})
    escalated = chat("auto", "easy")
    await strict.run(escalated)
    assert escalated.deployment is not None and escalated.deployment.name == "p/sim-large"
    assert [d.name for d, _ in escalated.notes[STEPS]] == ["p/sim-instant", "p/sim-small"]
