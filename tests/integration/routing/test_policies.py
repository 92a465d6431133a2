"""Each leaf policy and the task map through the gateway, driven by the official openai SDK."""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

import openai
import pytest

from pointsman.simulator.server import SimServer

from ..conftest import GatewayFactory
from .conftest import ask, providers


def alias(*deployments: tuple[str, str, float], **policy: Any) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "deployments": [{"provider": p, "model": m, "weight": w} for p, m, w in deployments]
    }
    if policy:
        spec["policy"] = policy
    return spec


async def test_weighted_canary_and_sticky_sessions(
    quick_sim: SimServer, start_gateway: GatewayFactory, api_factory: Any
) -> None:
    models = {
        "canary": alias(("sim", "sim-small", 9), ("sim", "sim-instant", 1)),
        "sticky": alias(
            ("sim", "sim-small", 1), ("sim", "sim-instant", 1), kind="weighted", sticky="session"
        ),
    }
    async with start_gateway(providers=providers(quick_sim.port), models=models) as url:
        api = api_factory(url)
        served = Counter()
        for _ in range(300):
            headers, _ = await ask(api, "canary")
            served[headers["x-pointsman-deployment"]] += 1
            assert headers["x-pointsman-route"].startswith("policy=weighted")
        assert 0.05 < served["sim/sim-instant"] / 300 < 0.17
        for session in ("alice", "bob", "carol", "dave"):
            picks = {
                (await ask(api, "sticky", extra_headers={"x-session-id": session}))[0][
                    "x-pointsman-deployment"
                ]
                for _ in range(6)
            }
            assert len(picks) == 1


async def test_least_latency_moves_traffic_to_the_faster_deployment(
    quick_sim: SimServer, start_gateway: GatewayFactory, api_factory: Any
) -> None:
    models = {
        "fastest": alias(("quick", "sim-small", 1), ("slow", "sim-small", 1), kind="least_latency")
    }
    config = providers(quick_sim.port, quick={"x-sim-ttft-ms": "1"}, slow={"x-sim-ttft-ms": "60"})
    async with start_gateway(providers=config, models=models) as url:
        api = api_factory(url)
        served = Counter()
        for _ in range(60):
            headers, _ = await ask(api, "fastest")
            served[headers["x-pointsman-deployment"]] += 1
        # both get sampled once, then power of two choices keeps picking the quick one
        assert served["quick/sim-small"] >= 55, served


async def test_least_busy_spreads_concurrent_requests(
    quick_sim: SimServer, start_gateway: GatewayFactory, api_factory: Any
) -> None:
    models = {
        "pool": alias(("a", "sim-small", 1), ("b", "sim-small", 1), kind="least_busy"),
        "lopsided": alias(("a", "sim-small", 10), ("b", "sim-small", 1)),
    }
    slow = {"x-sim-ttft-ms": "150"}
    config = providers(quick_sim.port, a=slow, b=slow)
    async with start_gateway(providers=config, models=models) as url:
        api = api_factory(url)
        burst = await asyncio.gather(*(ask(api, "pool") for _ in range(10)))
        spread = Counter(h["x-pointsman-deployment"] for h, _ in burst)
        assert spread == {"a/sim-small": 5, "b/sim-small": 5}


async def test_cheapest_prefers_the_cheap_model_and_sheds_load_when_it_rate_limits(
    quick_sim: SimServer, start_gateway: GatewayFactory, api_factory: Any
) -> None:
    models = {
        "thrifty": alias(("sim", "sim-large", 1), ("sim", "sim-small", 1), kind="cheapest"),
        "strained": alias(("limited", "sim-small", 1), ("sim", "sim-large", 1), kind="cheapest"),
    }
    config = providers(quick_sim.port, limited={"x-sim-fault": "429"})
    reliability = {
        "retry": {"same_deployment": 0, "max_wait": 0},
        "breaker": {"consecutive_failures": 1000, "min_requests": 1000},  # keep it in play
    }
    async with start_gateway(providers=config, models=models, reliability=reliability) as url:
        api = api_factory(url)
        thrifty = Counter(
            [(await ask(api, "thrifty"))[0]["x-pointsman-deployment"] for _ in range(20)]
        )
        assert thrifty == {"sim/sim-small": 20}
        first_calls = Counter()
        for _ in range(40):
            headers, _ = await ask(api, "strained")
            assert headers["x-pointsman-deployment"] == "sim/sim-large"  # fell back, or chose it
            first_calls[headers["x-pointsman-attempts"]] += 1
        # every 429 halves the cheap deployment's share: most requests soon go straight to
        # the dearer one (one call) instead of failing over (two calls) every time
        assert first_calls["1"] >= 25, first_calls


async def test_task_map_routes_by_declared_task(
    quick_sim: SimServer, start_gateway: GatewayFactory, api_factory: Any
) -> None:
    models = {
        "fast": [{"provider": "sim", "model": "sim-small"}],
        "smart": [{"provider": "sim", "model": "sim-large"}],
        "work": {"policy": {"kind": "task_map", "tasks": {"code": "smart", "chat": "fast"}}},
    }
    async with start_gateway(providers=providers(quick_sim.port), models=models) as url:
        api = api_factory(url)
        headers, _ = await ask(api, "work", extra_headers={"x-pointsman-task": "code"})
        assert headers["x-pointsman-deployment"] == "sim/sim-large"
        assert (
            "route=work:task_map>smart:weighted; tier=code; reason=task"
            in headers["x-pointsman-route"]
        )
        headers, _ = await ask(api, "work", metadata={"task": "chat"})
        assert headers["x-pointsman-deployment"] == "sim/sim-small"
        with pytest.raises(openai.BadRequestError) as caught:
            await ask(api, "work", metadata={"task": "poetry"})
        assert caught.value.code == "unknown_task" and "one of: code, chat" in str(caught.value)
