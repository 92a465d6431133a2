"""Two gateway replicas sharing the cache through the real Redis on 127.0.0.1:6379."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
import redis.asyncio as aioredis

from pointsman.cache.entry import CachedAnswer
from pointsman.cache.redis_store import RedisStore
from pointsman.simulator.server import SimServer

from ..conftest import GatewayFactory
from ..governance.admin_client import admin
from .helpers import ask, sdk

REDIS_URL = os.environ.get("POINTSMAN_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


@pytest.fixture
async def prefix() -> AsyncIterator[str]:
    """A fresh key prefix on a reachable Redis (skips otherwise); its keys are deleted after."""
    client = aioredis.Redis.from_url(REDIS_URL)
    try:
        await client.ping()
    except (OSError, aioredis.RedisError) as error:
        await client.aclose()
        pytest.skip(f"Redis not reachable at {REDIS_URL} ({error}); start it to run this test")
    name = f"ptest:cache:{uuid.uuid4().hex[:10]}:"
    try:
        yield name
    finally:
        keys = [k async for k in client.scan_iter(match=name + "*", count=500)]
        if keys:
            await client.delete(*keys)
        await client.aclose()


def settings(prefix: str, **extra: Any) -> dict[str, Any]:
    return {"url": REDIS_URL, "prefix": prefix, **extra}


async def test_an_answer_stored_by_one_replica_is_served_by_the_other(
    start_gateway: GatewayFactory, sim: SimServer, prefix: str
) -> None:
    semantic = {"enabled": True, "embedder": "hashing", "threshold": 0.9, "sync_seconds": 0.05}
    cache = settings(prefix, semantic=semantic)
    async with (
        start_gateway(cache=cache) as one,
        start_gateway(cache=cache) as two,
        sdk(one) as a,
        sdk(two) as b,
    ):
        assert (await ask(a))[1] == "miss"
        assert (await ask(b))[1] == "hit"
        asked = [{"role": "user", "content": "Which river runs through Paris?"}]
        await ask(a, asked)
        await asyncio.sleep(0.3)  # replica two reads the shared vectors
        reworded = [{"role": "user", "content": "which river runs through paris"}]
        assert (await ask(b, reworded))[1].startswith("semantic-hit")
        assert sim.stats.total == 2
        stats = await admin(two, "GET", "/cache/stats")
        assert stats["backend"] == "redis" and stats["totals"]["hits"] >= 1
        assert stats["totals"]["semantic_hits"] == 1
        purged = await admin(one, "POST", "/cache/purge", {"master": True})
        assert purged["deleted"] == 2
        await asyncio.sleep(0.3)
        assert (await ask(b))[1] == "miss"
        assert (await ask(b, reworded))[1] == "miss"


async def test_redis_store_ttl_and_lru_bounds(prefix: str) -> None:
    store = RedisStore.from_url(REDIS_URL, prefix=prefix, max_entries=2, max_bytes=10**6)
    try:
        entry = CachedAnswer(b'{"choices": []}', 1, 1, 5, "sim/x", 0.0)
        await store.put("s", "a", entry, 60)
        await store.put("s", "b", entry, 60)
        assert await store.get("s", "a") is not None  # a is used: b is now the oldest
        await store.put("s", "c", entry, 60)
        assert await store.get("s", "b") is None
        await store.put("s", "short", entry, 0.05)
        await asyncio.sleep(0.1)
        assert await store.get("s", "short") is None
        stats = await store.stats()
        assert stats.evictions >= 2 and stats.entries <= 2
        assert stats.scopes["s"].saved_micros == 5
    finally:
        await store.close()
