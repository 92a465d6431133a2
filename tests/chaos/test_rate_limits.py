"""Scenario 2: a 429 storm with Retry-After; the reset time and the retry budget hold."""

from __future__ import annotations

import asyncio
import itertools
import time

from pointsman.simulator.server import SimServer

from .conftest import (
    PRIMARY,
    RELIABILITY,
    SECONDARY,
    ChaosReport,
    GatewayFactory,
    Sims,
    deployments,
    drive,
    set_profile,
)

RETRY_AFTER = 1.0


async def _arrivals(sim: SimServer, model: str, until: asyncio.Event) -> list[float]:
    """Times at which ``model`` received requests, read from the simulator's counters."""
    times: list[float] = []
    seen = 0
    while not until.is_set():
        count = sum(sim.stats.model(model).values())
        times += [time.perf_counter()] * (count - seen)
        seen = count
        await asyncio.sleep(0.002)
    return times


async def test_429_storm_honours_retry_after_and_the_retry_budget(
    sims: Sims, gateway: GatewayFactory, report: ChaosReport
) -> None:
    # (a) The primary answers 429 with Retry-After 1 s to everything for ~2.5 s of traffic.
    await set_profile(sims.alpha, "primary", error_rates={"429": 1.0}, retry_after_s=RETRY_AFTER)
    async with gateway() as url:
        stop = asyncio.Event()
        watcher = asyncio.create_task(_arrivals(sims.alpha, "primary", stop))
        started = time.perf_counter()
        outcomes = []
        while time.perf_counter() - started < 2.5:
            outcomes += await drive(url, "pair", 20, 5)
        stop.set()
        arrivals = await watcher
        health = await deployments(url)
    assert all(o.ok for o in outcomes)
    # Calls to the primary come in bursts (the requests in flight when a 429 came back), and
    # no burst starts before the previous one's reset time.
    bursts = [arrivals[0]]
    for t in arrivals[1:]:
        if t - bursts[-1] > 0.1:
            bursts.append(t)
    gaps = [b - a for a, b in itertools.pairwise(bursts)]
    assert gaps and min(gaps) >= RETRY_AFTER - 0.01, gaps
    assert len(arrivals) <= (5 + 1) * len(bursts)  # the requests in flight, and a health probe
    assert health["deployments"][PRIMARY]["breaker"] == "closed"  # a 429 is not an outage
    # Routing orders a cooling deployment last, or the walk passes it over: either way the
    # secondary serves meanwhile.
    by_secondary = sum(o.deployment == SECONDARY for o in outcomes)
    report.add(
        "2a 429 storm, Retry-After 1 s",
        outcomes,
        f"{len(arrivals)} calls reached the rate-limited primary in {len(bursts)} bursts, "
        f"{min(gaps):.2f}s or more apart (Retry-After {RETRY_AFTER:g}s); {by_secondary} "
        f"requests served by {SECONDARY} meanwhile",
    )


async def test_retry_budget_bounds_the_attempts_of_a_storm(
    sims: Sims, gateway: GatewayFactory, report: ChaosReport
) -> None:
    # (b) Nothing to fall back to, and a Retry-After of 0: each request would retry once.
    await set_profile(sims.beta, "secondary", error_rates={"429": 1.0}, retry_after_s=0)
    budget = {"ratio": 0.2, "min_per_window": 10, "window": 10}
    models = {"solo": [{"provider": "beta", "model": "secondary"}]}
    quiet = {"enabled": False}  # no probes: every call the simulator counts is a request's
    reliability = {**RELIABILITY, "budget": budget, "health_check": quiet}
    async with gateway(reliability=reliability, models=models) as url:
        outcomes = await drive(url, "solo", 300, 10)
        health = await deployments(url)
    calls = sum(sims.beta.stats.model("secondary").values())
    assert all(o.status == 429 and o.retry_after is not None for o in outcomes)
    assert calls == sum(o.attempts for o in outcomes)
    assert calls <= len(outcomes) * (1 + budget["ratio"]) + budget["min_per_window"]
    assert health["counters"]["budget_exhausted"] >= len(outcomes) - 0.2 * 300 - 10
    report.add(
        "2b 429 storm, no fallback",
        outcomes,
        f"{calls} upstream calls for {len(outcomes)} requests "
        f"(budget: at most {len(outcomes) * 1.2 + 10:.0f}; without it {2 * len(outcomes)}); "
        "every answer a 429 with Retry-After",
        success=lambda o: o.status == 429 and o.retry_after is not None,
    )
