"""Shadow traffic through the gateway: the client is unaffected, both answers are recorded, and
the shadow's spend is accounted apart from the caller's."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import aiohttp

from pointsman.simulator.server import SimServer

from ..conftest import MASTER_KEY, GatewayFactory
from ..governance.admin_client import admin, provision
from .conftest import ask, providers


async def comparisons(url: str, count: int) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {MASTER_KEY}"}
    async with aiohttp.ClientSession() as session:
        for _ in range(200):
            async with session.get(f"{url}/routing/shadow", headers=headers) as response:
                assert response.status == 200
                data: dict[str, Any] = await response.json()
            done = [c for c in data["comparisons"] if c["shadow"]["status"] != "pending"]
            if len(done) >= count:
                return data
            await asyncio.sleep(0.02)
    raise AssertionError(f"shadow calls did not finish: {data}")


async def test_shadow_mirrors_without_touching_the_client(
    quick_sim: SimServer, start_gateway: GatewayFactory, api_factory: Any
) -> None:
    models = {
        "main": {
            "deployments": [{"provider": "sim", "model": "sim-small"}],
            "shadow": {"alias": "challenger", "sample": 1.0, "timeout": 5},
        },
        "challenger": [{"provider": "slow", "model": "sim-large"}],
    }
    config = providers(quick_sim.port, slow={"x-sim-ttft-ms": "400"})
    async with start_gateway(providers=config, models=models) as url:
        team_id, secret = await provision(url, budget_usd=5.0)
        api = api_factory(url, secret)
        started = time.perf_counter()
        for _ in range(3):
            headers, answer = await ask(api, "main")
            assert headers["x-pointsman-deployment"] == "sim/sim-small"
            assert "shadow=challenger" in headers["x-pointsman-route"]
            assert answer.choices[0].message.content
        elapsed = time.perf_counter() - started
        assert elapsed < 1.0, f"the client waited for the shadow ({elapsed:.3f} s)"  # >= 1.2 if so
        data = await comparisons(url, 3)
        [summary] = data["summary"]
        assert summary["alias"] == "main" and summary["challenger"] == "challenger"
        assert summary["mirrored"] == 3 and summary["both_ok"] == 3
        assert summary["shadow_latency_ms"] >= 400 > summary["primary_latency_ms"]
        assert summary["shadow_cost_usd"] > summary["primary_cost_usd"] > 0
        for comparison in data["comparisons"]:
            assert comparison["primary"]["text"] and comparison["shadow"]["text"]
        for _ in range(100):
            by_alias = {
                row["group"]: row
                for row in await admin(url, "GET", "/spend?by=alias&since=2000-01-01")
            }
            if by_alias.get("shadow:main", {}).get("requests") == 3:
                break
            await asyncio.sleep(0.05)
        assert by_alias["main"]["requests"] == 3 and by_alias["shadow:main"]["requests"] == 3
        by_team = {
            row["group"]: row for row in await admin(url, "GET", "/spend?by=team&since=2000-01-01")
        }
        # the caller's team is charged for its own requests only; the shadow has no team
        assert by_team[team_id]["cost_usd"] == by_alias["main"]["cost_usd"]
        assert by_team[None]["cost_usd"] == by_alias["shadow:main"]["cost_usd"]
