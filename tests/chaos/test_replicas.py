"""Two gateway replicas sharing Redis: a breaker opened on one opens on the other."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from pointsman.state.base import StateUnavailableError
from pointsman.state.redis import RedisBackend

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
    wait_for,
)

REDIS_URL = os.environ.get("POINTSMAN_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
SYNC = 0.1


@pytest.fixture
async def redis_prefix() -> AsyncIterator[str]:
    prefix = f"pchaos:{uuid.uuid4().hex[:12]}:"
    backend = RedisBackend.from_url(REDIS_URL, prefix=prefix)
    try:
        await backend.ping()
    except StateUnavailableError as error:
        await backend.close()
        pytest.skip(f"Redis not reachable at {REDIS_URL} ({error}); start it to run this test")
    try:
        yield prefix
    finally:
        keys = [k async for k in backend.client.scan_iter(match=prefix + "*", count=500)]
        if keys:
            await backend.client.delete(*keys)
        await backend.close()


async def test_a_breaker_opened_on_one_replica_opens_on_the_other(
    sims: Sims, gateway: GatewayFactory, report: ChaosReport, redis_prefix: str, tmp_path: Path
) -> None:
    breaker = {**RELIABILITY["breaker"], "consecutive_failures": 3, "cooldown": 4}
    reliability = {
        **RELIABILITY,
        "breaker": breaker,
        "sync_interval": SYNC,
        "health_check": {"enabled": False},  # no probes: only replica A's traffic sees the outage
    }

    def replica(name: str) -> dict[str, object]:
        return {
            "reliability": reliability,
            "governance": {"enabled": True},
            "state": {"url": REDIS_URL, "prefix": redis_prefix},
            "store": {"url": f"sqlite+aiosqlite:///{tmp_path}/{name}.db"},
        }

    await set_profile(sims.alpha, "primary", down=True)
    async with gateway(**replica("a")) as a, gateway(**replica("b")) as b:
        first = await drive(a, "pair", 10, 1)
        assert (await deployments(a))["deployments"][PRIMARY]["breaker"] == "open"

        async def opened_on_b() -> bool:
            row = (await deployments(b))["deployments"][PRIMARY]
            return bool(row["breaker"] == "open")

        took = await wait_for(opened_on_b, within=2.0)
        b_health = await deployments(b)
        calls_before = sum(sims.alpha.stats.model("primary").values())
        second = await drive(b, "pair", 10, 2)
        calls_after = sum(sims.alpha.stats.model("primary").values())
    assert b_health["deployments"][PRIMARY]["calls"] == 0  # B never called the dead primary
    assert b_health["breaker_sync"] == "shared"
    assert all(o.ok and o.deployment == SECONDARY and o.attempts == 1 for o in second)
    assert calls_after == calls_before
    report.add(
        "7 two replicas, shared breaker (Redis)",
        [*first, *second],
        f"replica A opened the primary's breaker after 3 failures; replica B opened it "
        f"{took:.2f}s later (sync every {SYNC:g}s) without calling it; B's 10 requests: "
        "0 calls to the primary",
    )
