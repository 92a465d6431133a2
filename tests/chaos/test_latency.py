"""Scenario 3: a primary whose first token takes 5 s; the TTFT timeout, and hedging."""

from __future__ import annotations

import asyncio

from .conftest import (
    PRIMARY,
    RELIABILITY,
    SECONDARY,
    TTFT_TIMEOUT,
    ChaosReport,
    GatewayFactory,
    Sims,
    deployments,
    drive,
    percentile,
    set_profile,
)


async def test_slow_first_token_switches_within_the_ttft_timeout(
    sims: Sims, gateway: GatewayFactory, report: ChaosReport
) -> None:
    await set_profile(sims.alpha, "primary", ttft_ms=5000)
    async with gateway() as url:
        outcomes = await drive(url, "pair", 80, 10, stream=True)
        health = await deployments(url)
        await asyncio.sleep(0.1)
        open_upstream = len(sims.alpha._connections)  # the abandoned streams' connections
    latencies = [o.latency for o in outcomes]
    p99 = percentile(latencies, 0.99)
    assert all(o.ok for o in outcomes)
    assert {o.deployment for o in outcomes} == {SECONDARY}
    # Never longer than the TTFT timeout plus the fallback's own answer.
    assert max(latencies) < TTFT_TIMEOUT + 0.4
    switched = sum(o.attempts > 1 for o in outcomes)
    primary = health["deployments"][PRIMARY]
    assert primary["breaker"] != "closed"  # slow is failing: later requests skip it at once
    assert health["counters"]["attempts"]["timeout_ttft"] >= switched
    assert open_upstream <= 2  # cut streams were released, not left hanging on the provider
    report.add(
        "3 slow TTFT (5 s)",
        outcomes,
        f"{switched} streams abandoned the primary at the {TTFT_TIMEOUT:g}s TTFT timeout and "
        f"switched; then its breaker opened; max latency {max(latencies) * 1000:.0f} ms "
        f"(bound {(TTFT_TIMEOUT + 0.4) * 1000:.0f} ms); {open_upstream} connections left open "
        "on the slow provider",
    )
    assert p99 < TTFT_TIMEOUT + 0.4


async def test_hedging_bounds_the_latency_of_a_slow_primary(
    sims: Sims, gateway: GatewayFactory, report: ChaosReport
) -> None:
    """Non-streamed requests have no first token to time out on: a hedge covers them."""
    await set_profile(sims.alpha, "primary", ttft_ms=5000)
    breaker = {**RELIABILITY["breaker"], "consecutive_failures": 1000, "min_requests": 1000}
    budget = {**RELIABILITY["budget"], "min_per_window": 100}  # hedges are extra attempts
    reliability = {**RELIABILITY, "breaker": breaker, "budget": budget, "hedge_after": 0.1}
    async with gateway(reliability=reliability) as url:
        outcomes = await drive(url, "pair", 40, 10)
        health = await deployments(url)
        await asyncio.sleep(0.1)
        open_upstream = len(sims.alpha._connections)
    counters = health["counters"]
    assert all(o.ok and o.deployment == SECONDARY for o in outcomes)
    assert all(o.attempts == 2 for o in outcomes)
    assert counters["hedges_started"] == counters["hedges_won"] == len(outcomes)
    assert max(o.latency for o in outcomes) < 0.1 + 0.3
    assert open_upstream <= 2  # every losing call was cancelled and its connection closed
    report.add(
        "3b slow primary, hedged (non-streamed)",
        outcomes,
        f"hedge after 100 ms: {counters['hedges_won']} of {len(outcomes)} answered by the "
        f"hedge; losers cancelled ({open_upstream} connections left on the slow provider)",
    )
