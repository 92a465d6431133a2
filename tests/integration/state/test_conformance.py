"""One contract, every backend: the memory and Redis backends must behave identically.

Time is driven by a manual clock handed to both backends, so windows, refills and lifetimes are
checked exactly, without sleeping.
"""

from __future__ import annotations

import asyncio
import random

import pytest

from pointsman.state.base import (
    Bucket,
    Check,
    LedgerSpec,
    LedgerState,
    ReserveOutcome,
    Slots,
    StateBackend,
    Threshold,
    Window,
)
from pointsman.state.memory import MemoryBackend

from .conftest import ManualClock, drop_keys, open_redis, unique_prefix

ORG = LedgerSpec("{o}:org", None)
TEAM = LedgerSpec("{o}:team", 100)
ALERTING = LedgerSpec("{o}:alerting", 1000, (Threshold("70", 700), Threshold("100", 1000)))

# --- budgets ---------------------------------------------------------------------------------


async def test_reserve_is_all_or_nothing(backend: StateBackend) -> None:
    granted = await backend.reserve([ORG, TEAM], "r1", 60, 30)
    assert granted == ReserveOutcome(True, (LedgerState(0, 60), LedgerState(0, 60)), None)

    refused = await backend.reserve([ORG, TEAM], "r2", 41, 30)
    assert not refused.granted and refused.blocked == 1
    # The uncapped org level was not charged either.
    assert refused.ledgers == (LedgerState(0, 60), LedgerState(0, 60))

    exact = await backend.reserve([ORG, TEAM], "r3", 40, 30)  # lands exactly on the cap
    assert exact.granted and exact.ledgers[1] == LedgerState(0, 100)


async def test_settle_releases_hold_and_records_actual_in_full(backend: StateBackend) -> None:
    await backend.reserve([ORG, TEAM], "r1", 50, 30)
    settled = await backend.settle([ORG, TEAM], "r1", 80)  # more than reserved: recorded anyway
    assert settled.ledgers == (LedgerState(80, 0), LedgerState(80, 0))
    assert settled.held == (True, True)
    refused = await backend.reserve([ORG, TEAM], "r2", 21, 30)
    assert refused.blocked == 1 and refused.ledgers[1] == LedgerState(80, 0)


async def test_settle_of_unknown_reservation_still_records_spend(backend: StateBackend) -> None:
    settled = await backend.settle([TEAM], "never-reserved", 7)
    assert settled.ledgers == (LedgerState(7, 0),) and settled.held == (False,)


async def test_thresholds_fire_once_each(backend: StateBackend) -> None:
    first = await backend.settle([ALERTING], "a", 699)
    assert first.crossed == ((),)
    second = await backend.settle([ALERTING], "b", 400)  # 1099: both thresholds at once
    assert second.crossed == (("70", "100"),)
    third = await backend.settle([ALERTING], "c", 1)
    assert third.crossed == ((),)


async def test_expired_reservations_are_released(backend: StateBackend, clock: ManualClock) -> None:
    await backend.reserve([TEAM], "crashed", 90, 10.0)
    clock.advance(9.5)
    assert await backend.ledger_states([TEAM]) == (LedgerState(0, 90),)
    assert not (await backend.reserve([TEAM], "r2", 20, 10.0)).granted
    clock.advance(0.5)  # the hold lapses exactly at reserve time + ttl
    assert (await backend.reserve([TEAM], "r3", 20, 10.0)).ledgers == (LedgerState(0, 20),)
    late = await backend.settle([TEAM], "crashed", 90)  # a late settle is still recorded
    assert late.held == (False,) and late.ledgers == (LedgerState(90, 20),)


async def test_seed_spent_only_sets_an_empty_ledger(backend: StateBackend) -> None:
    assert await backend.seed_spent(TEAM, 40)
    assert not await backend.seed_spent(TEAM, 99)
    assert await backend.ledger_states([TEAM]) == (LedgerState(40, 0),)
    assert not (await backend.reserve([TEAM], "r", 61, 30)).granted


# --- rate limits -------------------------------------------------------------------------------


async def test_window_admits_exactly_the_limit_then_slides(
    backend: StateBackend, clock: ManualClock
) -> None:
    window = Window("{rl}:rpm", 3, 60.0, 1)
    for i in range(3):
        admitted = await backend.acquire([window], f"e{i}")
        assert admitted.admitted and admitted.checks[0].remaining == 2 - i
        clock.advance(1.0)
    refused = await backend.acquire([window], "e3")  # t = 3
    assert not refused.admitted and refused.blocked == 0
    assert refused.checks[0].retry_after == 57.0  # e0 (t = 0) leaves at t = 60
    assert refused.checks[0].reset_after == 59.0  # e2 (t = 2) leaves at t = 62
    clock.advance(56.999)
    assert not (await backend.acquire([window], "e4")).admitted
    clock.advance(0.001)
    assert (await backend.acquire([window], "e5")).admitted
    assert not (await backend.acquire([window], "e6")).admitted


async def test_weighted_window_is_settled_to_actual_tokens(backend: StateBackend) -> None:
    def tokens(cost: int) -> Window:
        return Window("{rl}:tpm", 100, 60.0, cost)

    first = await backend.acquire([tokens(70)], "a")
    assert first.checks[0].remaining == 30
    refused = await backend.acquire([tokens(40)], "b")
    assert not refused.admitted and refused.checks[0].retry_after == 60.0
    await backend.finish([tokens(70)], "a", [20])  # it used only 20
    second = await backend.acquire([tokens(40)], "b")
    assert second.admitted and second.checks[0].remaining == 40
    never = await backend.acquire([tokens(101)], "c")
    assert not never.admitted and never.checks[0].retry_after == -1


async def test_a_refused_request_records_nothing(backend: StateBackend) -> None:
    window, slots = Window("{rl}:rpm", 10, 60.0, 1), Slots("{rl}:conc", 1, 30.0)
    assert (await backend.acquire([window, slots], "a")).admitted
    refused = await backend.acquire([window, slots], "b")
    assert refused.blocked == 1 and refused.checks[0].admitted
    after = await backend.acquire([window], "c")
    assert after.checks[0].remaining == 8  # a and c only: b was not logged


async def test_bucket_refills_at_its_rate_and_never_above_capacity(
    backend: StateBackend, clock: ManualClock
) -> None:
    def take(cost: float) -> Bucket:
        return Bucket("{rl}:usd", 10.0, 2.0, cost)

    assert (await backend.acquire([take(4.0)], "a")).checks[0].remaining == 6.0
    assert (await backend.acquire([take(4.0)], "b")).checks[0].remaining == 2.0
    refused = await backend.acquire([take(4.0)], "c")
    assert not refused.admitted and refused.checks[0].retry_after == 1.0
    assert refused.checks[0].reset_after == 4.0
    clock.advance(1.0)
    assert (await backend.acquire([take(4.0)], "d")).checks[0].remaining == 0.0
    clock.advance(1000.0)
    assert (await backend.acquire([take(1.0)], "e")).checks[0].remaining == 9.0
    assert not (await backend.acquire([take(10.5)], "f")).checks[0].retry_after >= 0


async def test_bucket_settles_refunds_and_debt(backend: StateBackend) -> None:
    def take(cost: float) -> Bucket:
        return Bucket("{rl}:usd", 10.0, 1.0, cost)

    assert (await backend.acquire([take(10.0)], "a")).admitted
    await backend.finish([take(10.0)], "a", [4.0])  # refund 6
    assert (await backend.acquire([take(6.0)], "b")).checks[0].remaining == 0.0
    await backend.finish([take(6.0)], "b", [16.0])  # 10 more than taken: debt
    refused = await backend.acquire([take(1.0)], "c")
    assert not refused.admitted and refused.checks[0].retry_after == 11.0


async def test_slots_release_lapse_and_renew(backend: StateBackend, clock: ManualClock) -> None:
    slots = Slots("{rl}:conc", 2, 30.0)
    assert (await backend.acquire([slots], "a")).admitted
    clock.advance(5.0)
    assert (await backend.acquire([slots], "b")).checks[0].remaining == 0
    full = await backend.acquire([slots], "c")
    assert not full.admitted and full.checks[0].retry_after == 25.0
    await backend.finish([slots], "a", [0.0])
    assert (await backend.acquire([slots], "c")).admitted
    clock.advance(20.0)
    await backend.renew([slots], "c")  # c now lapses at t = 55 instead of 35
    clock.advance(10.0)  # t = 35: b (t = 5) lapsed, c still held
    assert (await backend.acquire([slots], "d")).checks[0].remaining == 0
    assert not (await backend.acquire([slots], "e")).admitted


# --- counters and versions ----------------------------------------------------------------------


async def test_counters_and_versions(backend: StateBackend) -> None:
    assert await backend.get("n") == 0
    assert await backend.add("n", 5) == 5
    assert await backend.add("n", -2) == 3
    assert await backend.get("n") == 3
    assert await backend.version("keys") == 0
    assert await backend.bump("keys") == 1
    assert await backend.bump("keys") == 2
    assert await backend.version("keys") == 2


async def test_counter_ttl_starts_with_the_counter(clock: ManualClock) -> None:
    # Redis counts a TTL on its own clock, so drive both clocks: the manual one and real time.
    memory = MemoryBackend(clock=clock)
    redis = await open_redis(unique_prefix(), clock)
    try:
        for backend in (memory, redis):
            await backend.add("short", 1, ttl=0.05)
            await backend.add("short", 1, ttl=100.0)  # does not extend: the TTL is set once
        clock.advance(0.2)
        await asyncio.sleep(0.2)
        for backend in (memory, redis):
            assert await backend.get("short") == 0
    finally:
        await drop_keys(redis)
        await redis.close()


# --- both backends, same random history, same answers -----------------------------------------


def _random_ops(seed: int, count: int) -> list[tuple[str, object]]:
    """A random history. Ids are fresh for each reserve/acquire (as the contract requires);
    settles and finishes pick an earlier id, sometimes one never used."""
    rng = random.Random(seed)
    ledgers = [ORG, TEAM, LedgerSpec("{o}:key", 250, (Threshold("70", 175),))]
    ops: list[tuple[str, object]] = []
    for n in range(count):
        earlier = f"x{rng.randint(0, n)}"
        roll = rng.random()
        if roll < 0.3:
            levels = rng.sample(ledgers, rng.randint(1, 3))
            ops.append(("reserve", (levels, f"x{n}", rng.randint(0, 60), 20.0)))
        elif roll < 0.45:
            levels = rng.sample(ledgers, rng.randint(1, 3))
            ops.append(("settle", (levels, earlier, rng.randint(0, 80))))
        elif roll < 0.85:
            checks: list[Check] = [
                Window("{rl}:rpm", 5, 10.0, 1),
                Window("{rl}:tpm", 300, 10.0, rng.randint(0, 120)),
                Bucket("{rl}:usd", 50.0, 3.5, rng.choice([0.5, 1.25, 7.0, 60.0])),
                Slots("{rl}:conc", 3, 8.0),
            ]
            picked = rng.sample(checks, rng.randint(1, 4))
            if roll < 0.7:
                ops.append(("acquire", (picked, f"x{n}")))
            else:
                actuals = [rng.randint(0, 150) * 0.5 for _ in picked]
                ops.append(("finish", (picked, earlier, actuals)))
        else:
            ops.append(("advance", rng.choice([0.25, 1.0, 3.0, 7.5])))
    return ops


async def _replay(
    backend: StateBackend, clock: ManualClock, ops: list[tuple[str, object]]
) -> list[object]:
    seen: list[object] = []
    for kind, args in ops:
        if kind == "advance":
            clock.advance(args)  # type: ignore[arg-type]
        elif kind == "reserve":
            seen.append(await backend.reserve(*args))  # type: ignore[misc]
        elif kind == "settle":
            seen.append(await backend.settle(*args))  # type: ignore[misc]
        elif kind == "acquire":
            seen.append(await backend.acquire(*args))  # type: ignore[misc]
        else:
            await backend.finish(*args)  # type: ignore[misc]
    return seen


@pytest.mark.parametrize("seed", range(4))
async def test_backends_agree_on_random_histories(seed: int) -> None:
    ops = _random_ops(seed, 400)
    memory_clock, redis_clock = ManualClock(), ManualClock()
    redis = await open_redis(unique_prefix(), redis_clock)
    try:
        expected = await _replay(MemoryBackend(clock=memory_clock), memory_clock, ops)
        actual = await _replay(redis, redis_clock, ops)
    finally:
        await drop_keys(redis)
        await redis.close()
    assert len(actual) == len(expected)
    for step, (mine, theirs) in enumerate(zip(expected, actual, strict=True)):
        assert mine == theirs, f"step {step}: memory {mine} != redis {theirs}"
