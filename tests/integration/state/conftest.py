"""Backends for the conformance suite: memory, and the real Redis on 127.0.0.1:6379.

Each Redis test gets its own key prefix and deletes its keys afterwards. Set
``POINTSMAN_TEST_REDIS_URL`` to use another server.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator

import pytest

from pointsman.state.base import StateBackend, StateUnavailableError
from pointsman.state.memory import MemoryBackend
from pointsman.state.redis import RedisBackend

REDIS_URL = os.environ.get("POINTSMAN_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
EPOCH = 1_700_000_000.0  # a realistic Unix time, so float precision is exercised as in production


class ManualClock:
    """A clock that moves only when told to."""

    def __init__(self, start: float = EPOCH) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def unique_prefix() -> str:
    return f"ptest:{uuid.uuid4().hex[:12]}:"


async def open_redis(prefix: str, clock: ManualClock | None = None) -> RedisBackend:
    """A Redis backend, or a skip naming the server when it is unreachable."""
    backend = RedisBackend.from_url(REDIS_URL, prefix=prefix, clock=clock)
    try:
        await backend.ping()
    except StateUnavailableError as error:
        await backend.close()
        pytest.skip(f"Redis not reachable at {REDIS_URL} ({error}); start it to run this test")
    return backend


async def drop_keys(backend: RedisBackend) -> None:
    keys = [key async for key in backend.client.scan_iter(match=backend.prefix + "*", count=500)]
    if keys:
        await backend.client.delete(*keys)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture(params=["memory", "redis"])
async def backend(
    request: pytest.FixtureRequest, clock: ManualClock
) -> AsyncIterator[StateBackend]:
    if request.param == "memory":
        yield MemoryBackend(clock=clock)
        return
    redis = await open_redis(unique_prefix(), clock)
    try:
        yield redis
    finally:
        await drop_keys(redis)
        await redis.close()
