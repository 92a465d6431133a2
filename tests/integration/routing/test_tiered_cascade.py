"""Tiered complexity routing and cascades through the gateway (official SDK, simulator)."""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

import msgspec

from pointsman.core.pipeline import RequestContext
from pointsman.core.types import ChatRequest, Usage
from pointsman.governance.catalog import Catalog
from pointsman.governance.costs import cost_of
from pointsman.routing.composite import Tiered, load_classifier
from pointsman.routing.settings import TieredPolicy
from pointsman.simulator.server import SimServer

from ..conftest import GatewayFactory
from ..governance.admin_client import admin
from .conftest import ask, providers

TIERS = {
    "fast": [{"provider": "sim", "model": "sim-small"}],
    "smart": [{"provider": "sim", "model": "sim-large"}],
}
TIERED = {"kind": "tiered", "cheap": "fast", "strong": "smart", "strong_share": 0.3}
PROMPTS = [
    "What is the capital of Italy?",
    "Say hello in French.",
    "Name a primary colour.",
    "What is 7 plus 5?",
    "Spell the word 'train' backwards.",
    "Is water wet? Answer yes or no.",
    "A shop sells pens at $3 each and notebooks at $5 each. Maria buys twice as many pens as "
    "notebooks and spends $77. How many notebooks did she buy? Show your working.",
    "Prove that the square root of 2 is irrational.",
    "Let f(x) = x^3 - 6x^2 + 11x - 6. Find all real roots and the intervals where f is increasing.",
    "A train leaves at 14:05 travelling 84 km/h; a second leaves the same station at 14:35 at "
    "105 km/h on a parallel track. When and where does the second overtake the first?",
    "Which of the following is a mammal? A. Shark B. Dolphin C. Trout D. Octopus",
    "Explain the difference between TCP and UDP in one sentence.",
]


CASCADE = {"kind": "cascade", "tiers": ["fast", "smart"], "scorer": "logprob"}
CATALOG = Catalog.load()


def micros(model: str, usage: Usage) -> int:
    return cost_of(usage, CATALOG.lookup(model)).micros


async def spend_by_alias(url: str, expect: int) -> dict[str, float]:
    for _ in range(100):
        rows = await admin(url, "GET", "/spend?by=alias&since=2000-01-01")
        if sum(row["requests"] for row in rows) >= expect:
            return {row["group"]: row["cost_usd"] for row in rows}
        await asyncio.sleep(0.05)
    raise AssertionError(f"the ledger never held {expect} requests: {rows}")


async def test_tiered_routing_splits_as_the_classifier_decides(
    quick_sim: SimServer, start_gateway: GatewayFactory, api_factory: Any
) -> None:
    models = {**TIERS, "auto": {"policy": TIERED}}
    tiered = Tiered(msgspec.convert(TIERED, TieredPolicy), load_classifier(None))
    expected = []
    for prompt in PROMPTS:
        body = {"model": "auto", "messages": [{"role": "user", "content": prompt}]}
        ctx = RequestContext("r", "chat", body, {}, chat=msgspec.convert(body, ChatRequest))
        expected.append(tiered.pick(ctx).alias)
    assert set(expected) == {"fast", "smart"}  # the prompts exercise both tiers
    async with start_gateway(providers=providers(quick_sim.port), models=models) as url:
        api = api_factory(url)
        served = []
        for prompt, tier in zip(PROMPTS, expected, strict=True):
            headers, _ = await ask(api, "auto", prompt)
            route = headers["x-pointsman-route"]
            assert route.startswith(f"policy=tiered; route=auto:tiered>{tier}:weighted")
            assert "score=" in route and "threshold=" in route
            served.append(headers["x-pointsman-deployment"])
        model = {"fast": "sim/sim-small", "smart": "sim/sim-large"}
        assert served == [model[tier] for tier in expected]
        spend = await spend_by_alias(url, len(PROMPTS))
        assert list(spend) == ["auto"]  # recorded under the client's alias


async def test_cascade_accepts_or_escalates_and_records_the_cost_of_every_step(
    quick_sim: SimServer, start_gateway: GatewayFactory, api_factory: Any
) -> None:
    models = {**TIERS, "easy": {"policy": CASCADE}, "tough": {"policy": CASCADE}}
    async with start_gateway(providers=providers(quick_sim.port), models=models) as url:
        api = api_factory(url)
        headers, accepted = await ask(api, "easy", "What is the capital of Italy?")
        assert headers["x-pointsman-deployment"] == "sim/sim-small"
        assert ":accepted" in headers["x-pointsman-route"]
        assert accepted.choices[0].logprobs is None  # the client did not ask for logprobs
        headers, escalated = await ask(api, "tough", "A hard question about trains.")
        assert headers["x-pointsman-deployment"] == "sim/sim-large"
        assert (
            ":escalated" in headers["x-pointsman-route"]
            and "smart:-:final" in headers["x-pointsman-route"]
        )
        assert headers["x-pointsman-attempts"] == "2"
        assert quick_sim.stats.model("sim-small") == {"ok": 2}
        spend = await spend_by_alias(url, 2)
        small = Usage(accepted.usage.prompt_tokens, accepted.usage.completion_tokens)
        assert round(spend["easy"] * 1e6) == micros("sim-small", small)
        final = Usage(escalated.usage.prompt_tokens, escalated.usage.completion_tokens)
        both = micros("sim-large", final) + micros("sim-small", final)  # same prompt, 8 tokens
        assert round(spend["tough"] * 1e6) == both


async def test_streaming_clients_get_the_final_answer_streamed(
    quick_sim: SimServer, start_gateway: GatewayFactory, api_factory: Any
) -> None:
    models = {**TIERS, "auto": {"policy": CASCADE}}
    async with start_gateway(providers=providers(quick_sim.port), models=models) as url:
        api = api_factory(url)
        outcomes = Counter()
        for prompt in ("Name a colour.", "This one is hard."):
            raw = await api.chat.completions.with_raw_response.create(
                model="auto",
                messages=[{"role": "user", "content": prompt}],
                max_tokens=8,
                stream=True,
                stream_options={"include_usage": True},
            )
            text, usage = "", None
            async for chunk in raw.parse():
                if chunk.choices and chunk.choices[0].delta.content:
                    text += chunk.choices[0].delta.content
                usage = chunk.usage or usage
            assert text and usage is not None and usage.completion_tokens == 8
            outcomes[raw.headers["x-pointsman-deployment"]] += 1
        assert outcomes == {"sim/sim-small": 1, "sim/sim-large": 1}
