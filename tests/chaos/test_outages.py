"""Scenarios 1 and 6: a primary provider hard down, then every provider down."""

from __future__ import annotations

import time

from .conftest import (
    COOLDOWN,
    PRIMARY,
    PROBE_INTERVAL,
    SECONDARY,
    THRESHOLD,
    ChaosReport,
    GatewayFactory,
    Sims,
    alternate,
    deployments,
    drive,
    percentile,
    set_profile,
    wait_for,
)

CONCURRENCY = 10


async def test_primary_hard_down_is_served_by_the_fallback(
    sims: Sims, gateway: GatewayFactory, report: ChaosReport
) -> None:
    async with gateway() as url:
        warm = await drive(url, "smart", 10, 5)
        assert {o.deployment for o in warm} == {PRIMARY}
        await set_profile(sims.alpha, "primary", down=True)
        started = time.perf_counter()
        outcomes = await drive(url, "smart", 300, CONCURRENCY, alternate)
        outage = time.perf_counter() - started
        health = await deployments(url)
        primary = health["deployments"][PRIMARY]
        transitions = health["counters"]["breaker_transitions"]

        # 100 % success through the fallback alias, streams included.
        assert all(o.ok for o in outcomes), [o.message for o in outcomes if not o.ok][:3]
        assert {o.deployment for o in outcomes} == {SECONDARY}
        # The breaker opened at its threshold: live calls to the dead primary are bounded by the
        # threshold, the calls already in flight when it opened, and one per half-open probe.
        assert primary["times_opened"] >= 1 and primary["breaker"] != "closed"
        probes = transitions.get("open->half_open", 0)
        assert primary["failures"] <= THRESHOLD + CONCURRENCY + probes
        fell_back = sum(o.attempts > 1 for o in outcomes)
        assert fell_back <= THRESHOLD + CONCURRENCY + probes
        assert max(o.attempts for o in outcomes) <= 3

        # The provider returns: active probes close the breaker, traffic goes back to it.
        await set_profile(sims.alpha, "primary", down=False)

        async def closed() -> bool:
            row = (await deployments(url))["deployments"][PRIMARY]
            return bool(row["breaker"] == "closed")

        bound = COOLDOWN * 2 ** primary["strikes"] + PROBE_INTERVAL + 0.5
        recovered = await wait_for(closed, within=bound)
        after = await drive(url, "smart", 20, 5)
        assert {o.deployment for o in after} == {PRIMARY}
        assert all(o.ok for o in after)
    report.add(
        "1 primary hard-down",
        outcomes,
        f"{len(outcomes)} requests in {outage:.1f}s of outage: 100 % served by the fallback; "
        f"breaker opened after {primary['failures']} failed live calls (threshold {THRESHOLD}, "
        f"{CONCURRENCY} in flight, {probes} half-open probes); {fell_back} requests needed a "
        f"fallback call; recovered by probes {recovered:.2f}s after the provider came back",
    )


async def test_everything_down_is_a_fast_503_naming_each_cause(
    sims: Sims, gateway: GatewayFactory, report: ChaosReport
) -> None:
    async with gateway() as url:
        await set_profile(sims.alpha, "primary", down=True)
        await set_profile(sims.beta, "secondary", down=True)
        outcomes = await drive(url, "pair", 200, CONCURRENCY, alternate)
        health = await deployments(url)
    assert all(o.status == 503 for o in outcomes)
    for o in outcomes:
        assert PRIMARY in o.message and SECONDARY in o.message, o.message
        assert o.retry_after is not None and int(o.retry_after) >= 1
    assert all(row["breaker"] != "closed" for row in health["deployments"].values())
    # Once both breakers are open, refusals take no upstream call at all and are fast.
    late = outcomes[len(outcomes) // 2 :]
    assert all(o.attempts == 0 for o in late)
    assert "circuit breaker open" in late[-1].message
    p50, p99 = (
        percentile([o.latency for o in late], 0.5),
        percentile([o.latency for o in late], 0.99),
    )
    assert p50 < 0.05 and p99 < 0.25
    assert percentile([o.latency for o in outcomes], 0.99) < 1.0
    calls = sum(o.attempts for o in outcomes)
    report.add(
        "6 all down",
        outcomes,
        f"every answer a 503 naming both deployments, with Retry-After; {calls} upstream calls "
        f"for {len(outcomes)} requests; after the breakers opened: 0 calls, "
        f"p50 {p50 * 1000:.1f} ms, p99 {p99 * 1000:.1f} ms",
        success=lambda o: o.status == 503 and o.retry_after is not None,
    )
