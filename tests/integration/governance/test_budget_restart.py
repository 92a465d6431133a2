"""A restart does not forget a budget's spend: counters are seeded from the SQL ledger."""

from __future__ import annotations

from pointsman.simulator.server import SimServer

from ..conftest import GatewayFactory
from .admin_client import fire, provision, team_spend

# sim-instant: 5 micro-USD a request (see test_budget_race.py); 500 micro-USD is ~100 requests.
BUDGET_USD = 0.0005


async def test_a_restarted_gateway_keeps_counting_the_period(
    start_gateway: GatewayFactory, sim: SimServer
) -> None:
    async with start_gateway() as url:  # in-process state: counters die with the process
        team, secret = await provision(url, BUDGET_USD)
        first = await fire([url], secret, 60)
        assert first == {"ok": 60}
    async with start_gateway() as url:  # same ledger database, fresh counters
        second = await fire([url], secret, 60)
        spend = await team_spend(url, team, 60 + second["ok"])
    # 300 of 500 micro-USD were spent before the restart: about 33 more fit, not 60.
    assert set(second) == {"ok", "budget_exceeded"}, second
    assert second["ok"] <= 40, second
    assert round(spend["cost_usd"] * 1_000_000) <= round(BUDGET_USD * 1_000_000)
