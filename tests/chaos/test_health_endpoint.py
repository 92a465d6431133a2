"""``GET /health/deployments``: master key only, one row per deployment."""

from __future__ import annotations

import aiohttp

from .conftest import PRIMARY, SECONDARY, GatewayFactory, deployments, drive


async def test_health_of_deployments_needs_the_master_key(gateway: GatewayFactory) -> None:
    async with gateway() as url, aiohttp.ClientSession() as session:
        for headers in ({}, {"Authorization": "Bearer wrong"}):
            async with session.get(f"{url}/health/deployments", headers=headers) as response:
                assert response.status == 401
                assert (await response.json())["error"]["type"] == "authentication_error"
        await drive(url, "smart", 5, 1)
        health = await deployments(url)
    assert set(health["deployments"]) == {PRIMARY, SECONDARY}
    row = health["deployments"][PRIMARY]
    assert (row["state"], row["region"], row["calls"]) == ("closed", "eu-west", 5)
    assert row["latency_ewma_ms"] > 0 and row["error_rate"] == 0
    assert health["counters"]["attempts"] == {"ok": 5}
    assert health["breaker_sync"] == "local"
