"""Token-bucket (GCRA) arithmetic: never above capacity, refill exact, admission honest."""

from __future__ import annotations

import asyncio

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from pointsman.state import bucket
from pointsman.state.base import Bucket
from pointsman.state.memory import MemoryBackend

EPOCH = 1_700_000_000.0
capacities = st.floats(min_value=0.5, max_value=1e7)
rates = st.floats(min_value=0.01, max_value=1e6)


class Clock:
    def __init__(self) -> None:
        self.now = EPOCH

    def __call__(self) -> float:
        return self.now


@settings(max_examples=300, deadline=None)
@given(
    capacity=capacities,
    rate=rates,
    steps=st.lists(
        st.tuples(
            st.sampled_from(["take", "adjust", "wait"]),
            st.floats(min_value=0, max_value=2.0),  # fraction of capacity, or of a refill
        ),
        max_size=60,
    ),
)
def test_level_never_exceeds_capacity(
    capacity: float, rate: float, steps: list[tuple[str, float]]
) -> None:
    state: bucket.BucketState | None = None
    now = bucket.micros(EPOCH)
    for kind, x in steps:
        if kind == "take":
            step = bucket.take(state, now, capacity, rate, x * capacity)
            assert step.remaining <= capacity
            state = step.state or state
        elif kind == "adjust":
            state = bucket.adjust(state, now, capacity, rate, (x - 1.0) * capacity)
        else:
            now += bucket.micros(x * capacity / rate)
        assert bucket.level(state, now, capacity, rate) <= capacity


@settings(max_examples=300, deadline=None)
@given(capacity=capacities, rate=rates, waited=st.floats(min_value=0, max_value=3.0))
def test_refill_is_exact_after_emptying(capacity: float, rate: float, waited: float) -> None:
    start = bucket.micros(EPOCH)
    emptied = bucket.take(None, start, capacity, rate, capacity)
    assert emptied.admitted and emptied.state is not None and emptied.remaining == 0.0
    later = start + bucket.micros(waited * capacity / rate)
    expected = min(capacity, (later - start) * rate / 1_000_000)
    assert bucket.level(emptied.state, later, capacity, rate) == expected


@settings(max_examples=300, deadline=None)
@given(
    capacity=capacities,
    rate=rates,
    used=st.floats(min_value=0, max_value=1.0),
    cost=st.floats(min_value=0, max_value=1.5),
)
def test_admission_matches_the_level(
    capacity: float, rate: float, used: float, cost: float
) -> None:
    now = bucket.micros(EPOCH)
    state = bucket.take(None, now, capacity, rate, used * capacity).state
    available = bucket.level(state, now, capacity, rate)
    step = bucket.take(state, now, capacity, rate, cost * capacity)
    if cost > 1.0:
        assert not step.admitted and step.retry_after == -1
    elif step.admitted:
        assert cost * capacity <= available + 1e-9 * max(1.0, capacity)
    else:
        assert cost * capacity > available
        # Waiting retry_after (rounded up to the next microsecond) makes it fit.
        later = now + bucket.micros(step.retry_after) + 1
        assert bucket.take(state, later, capacity, rate, cost * capacity).admitted


@settings(max_examples=60, deadline=None)
@given(
    capacity=st.integers(min_value=1, max_value=50),
    rate=st.integers(min_value=1, max_value=20),
    tick=st.sampled_from([0.01, 0.05, 0.1, 0.25]),
    seconds=st.integers(min_value=1, max_value=30),
)
def test_memory_backend_admits_capacity_plus_rate_times_time(
    capacity: int, rate: int, tick: float, seconds: int
) -> None:
    """Demand far above the rate, driven by an injected clock: exactly capacity + rate * t.

    Exact when the bucket cannot overflow between two polls (otherwise refill is rightly lost).
    """
    assume(capacity >= 1 + rate * tick)
    clock = Clock()
    backend = MemoryBackend(clock=clock)
    check = Bucket("b", float(capacity), float(rate), 1.0)

    async def run() -> int:
        admitted = 0
        for n in range(round(seconds / tick) + 1):
            clock.now = EPOCH + n * tick
            while (await backend.acquire([check], f"{n}.{admitted}")).admitted:
                admitted += 1
        return admitted

    assert asyncio.run(run()) == capacity + rate * seconds


def test_a_cost_above_capacity_never_fits() -> None:
    step = bucket.take(None, bucket.micros(EPOCH), 10.0, 1.0, 10.5)
    assert not step.admitted and step.retry_after == -1 and step.remaining == 10.0


def test_a_clock_stepping_back_refills_nothing() -> None:
    now = bucket.micros(EPOCH)
    state = bucket.take(None, now, 10.0, 1.0, 10.0).state
    assert bucket.level(state, now - 5_000_000, 10.0, 1.0) == 0.0


def test_debt_is_waited_off() -> None:
    now = bucket.micros(EPOCH)
    state = bucket.adjust(None, now, 10.0, 2.0, 14.0)  # 14 charged to a full bucket of 10
    assert bucket.level(state, now, 10.0, 2.0) == -4.0
    step = bucket.take(state, now, 10.0, 2.0, 1.0)
    assert not step.admitted and step.retry_after == 2.5
