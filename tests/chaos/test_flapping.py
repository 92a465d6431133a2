"""Scenario 5: a provider flapping up and down every 0.15 s. Hysteresis keeps it out instead of
letting its breaker oscillate at the rhythm of the cooldown."""

from __future__ import annotations

import time
from typing import Any

import aiohttp

from .conftest import (
    PRIMARY,
    RELIABILITY,
    ChaosReport,
    GatewayFactory,
    Outcome,
    Sims,
    deployments,
    drive,
    set_profile,
)

HALF_PERIOD = 0.15
DURATION = 3.0
BREAKER = {
    "consecutive_failures": 3,
    "error_rate": 0.5,
    "min_requests": 20,
    "window": 5,
    "cooldown": 0.2,
    "max_cooldown": 4,
}


async def _flap(sims: Sims, gateway: GatewayFactory, stable_after: float) -> tuple[
    list[Outcome], dict[str, Any], dict[str, int]
]:  # fmt: skip
    async with aiohttp.ClientSession() as session:
        await session.post(f"{sims.alpha.url}/_sim/reset")  # the outage clock starts now
    windows = [
        {"start_s": (2 * k + 1) * HALF_PERIOD, "end_s": (2 * k + 2) * HALF_PERIOD}
        for k in range(int(DURATION / HALF_PERIOD))
    ]
    await set_profile(sims.alpha, "primary", outages=windows)
    reliability = {**RELIABILITY, "breaker": {**BREAKER, "stable_after": stable_after}}
    async with gateway(reliability=reliability) as url:
        outcomes: list[Outcome] = []
        started = time.perf_counter()
        while time.perf_counter() - started < DURATION:
            outcomes += await drive(url, "pair", 10, 5)
        health = await deployments(url)
    return outcomes, health["deployments"][PRIMARY], health["counters"]["breaker_transitions"]


def _closes(transitions: dict[str, int]) -> int:
    return transitions.get("half_open->closed", 0) + transitions.get("open->closed", 0)


async def test_flapping_provider_does_not_make_its_breaker_oscillate(
    sims: Sims, gateway: GatewayFactory, report: ChaosReport
) -> None:
    outcomes, primary, transitions = await _flap(sims, gateway, stable_after=3.0)
    # Control: the same flapping with hysteresis switched off (a re-open is never "soon").
    _, control, control_transitions = await _flap(sims, gateway, stable_after=1e-6)

    assert all(o.ok for o in outcomes), [o.message for o in outcomes if not o.ok][:3]
    cycles, control_cycles = _closes(transitions), _closes(control_transitions)
    # Re-opening soon after closing doubled the cooldown; the control never did.
    assert primary["strikes"] >= 1 and control["strikes"] == 0
    # Back into rotation (and out again) a few times at most, where the control oscillates.
    assert cycles <= 4
    assert control_cycles >= 2 * max(cycles, 1)
    fell_back = sum(o.attempts > 1 for o in outcomes)
    report.add(
        "5 flapping provider (0.15 s up / 0.15 s down)",
        outcomes,
        f"in {DURATION:g}s the primary went back into rotation {cycles} times (cooldown "
        f"doubled {primary['strikes']} times); without hysteresis {control_cycles} times; "
        f"{fell_back} requests needed a fallback call, none failed",
    )
