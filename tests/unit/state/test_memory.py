"""Memory-backend housekeeping and backend selection (the shared contract is in the conformance
suite under tests/integration/state, which runs the memory backend too)."""

from __future__ import annotations

from typing import Any

import pytest

from pointsman.errors import ConfigError
from pointsman.state import check_workers, make_backend
from pointsman.state.base import Bucket, LedgerSpec, Slots, Window
from pointsman.state.memory import MemoryBackend
from pointsman.state.redis import RedisBackend, redacted

EPOCH = 1_700_000_000.0


class Clock:
    def __init__(self) -> None:
        self.now = EPOCH

    def __call__(self) -> float:
        return self.now


async def test_forgotten_state_is_dropped_after_its_time() -> None:
    clock = Clock()
    backend = MemoryBackend(clock=clock, gc_interval=10.0)
    ledger = LedgerSpec("{o}:old-period", 100, expire_at=EPOCH + 50)
    await backend.reserve([ledger], "r", 10, 5.0)
    await backend.acquire(
        [Window("w", 5, 20.0, 1), Bucket("b", 10.0, 1.0, 4.0), Slots("s", 2, 30.0)], "e"
    )
    await backend.add("c", 1, ttl=15.0)
    await backend.add("forever", 1)

    def sizes() -> list[int]:
        families: tuple[dict[str, Any], ...] = (
            backend._ledgers,
            backend._logs,
            backend._buckets,
            backend._leases,
            backend._counters,
        )
        return [len(family) for family in families]

    assert sizes() == [1, 1, 1, 1, 2]
    clock.now = EPOCH + 25  # window (20 s), bucket (full after 4 s), counter (15 s) are done
    await backend.version("tick")  # no sweep: not a state operation
    await backend.get("c")
    await backend.add("other", 0)  # a state operation runs the sweep
    assert sizes() == [1, 0, 0, 1, 2]  # ledger until +50, slots until +30; "forever" and "other"
    clock.now = EPOCH + 60
    await backend.add("other", 0)
    assert sizes() == [0, 0, 0, 0, 2]


async def test_memory_backend_is_not_shared() -> None:
    backend = make_backend(None)
    assert isinstance(backend, MemoryBackend) and not backend.shared
    assert "this worker only" in backend.describe()
    assert isinstance(make_backend("memory"), MemoryBackend)
    await backend.ping()
    await backend.close()


def test_several_workers_on_memory_state_are_refused() -> None:
    check_workers(MemoryBackend(), 1)
    with pytest.raises(ConfigError) as refused:
        check_workers(MemoryBackend(), 4)
    (problem,) = refused.value.problems
    assert problem.startswith("server.workers: 4 workers")
    assert "4x every limit" in problem and "state.url: redis://" in problem


async def test_redis_urls_select_the_shared_backend_and_hide_passwords() -> None:
    backend = make_backend("redis://:hunter2@cache.internal:6380/1", prefix="pm:")
    try:
        assert isinstance(backend, RedisBackend) and backend.shared
        check_workers(backend, 8)
        assert "hunter2" not in backend.describe()
        assert "redis://:***@cache.internal:6380/1" in backend.describe()
    finally:
        await backend.close()
    assert redacted("redis://alice:pw@h:1/0") == "redis://alice:***@h:1/0"
    assert redacted("redis://h:1/0") == "redis://h:1/0"


def test_unknown_state_urls_are_config_errors() -> None:
    with pytest.raises(ConfigError) as refused:
        make_backend("memcached://x")
    assert refused.value.problems[0].startswith("state.url: unknown state backend")


def test_prefix_may_not_carry_hash_tags() -> None:
    with pytest.raises(ValueError, match="prefix"):
        make_backend("redis://127.0.0.1:6379/0", prefix="{p}:")
