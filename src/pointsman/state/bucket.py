"""Token-bucket arithmetic, shared by the memory backend and mirrored by the Redis scripts.

A bucket is two numbers: the tokens it held at its last update and when that was, in *integer
microseconds*. Integer time makes every elapsed interval exact (a float Unix time only resolves
about a quarter of a microsecond, enough to make a full bucket refuse its own capacity), so
refill is exact up to one rounding of ``elapsed * rate``. The level is clamped to ``capacity``
whenever it is read, so a bucket never holds more. Charging more after the fact (actual cost
above the estimate) drives the level below zero, and later requests wait the debt off.

The Redis scripts (``lua/limits.lua``) perform the same operations in the same order, so both
backends agree to the last bit on the same inputs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

# Float sums of many small costs can land a hair short of a whole token; forgive that much.
TOLERANCE = 1e-9
MICROS = 1_000_000


@dataclass(frozen=True, slots=True)
class BucketState:
    tokens: float
    stamp: int  # microseconds


@dataclass(frozen=True, slots=True)
class BucketStep:
    """Outcome of :func:`take`. ``state`` is what to store (None: refused, store nothing)."""

    admitted: bool
    state: BucketState | None
    remaining: float
    reset_after: float
    retry_after: float


def micros(seconds: float) -> int:
    """A time in seconds as whole microseconds (the Lua side rounds the same way)."""
    return math.floor(seconds * MICROS + 0.5)


def level(state: BucketState | None, now_us: int, capacity: float, rate: float) -> float:
    """What the bucket holds at ``now_us``: at most ``capacity``, negative when in debt.

    A clock that steps backwards refills nothing.
    """
    if state is None:
        return capacity
    return min(capacity, state.tokens + max(0, now_us - state.stamp) * rate / MICROS)


def take(
    state: BucketState | None, now_us: int, capacity: float, rate: float, cost: float
) -> BucketStep:
    """Try to take ``cost``. ``retry_after`` is the wait until it fits, -1 when it never can."""
    held = level(state, now_us, capacity, rate)
    if cost > capacity:
        return BucketStep(False, None, max(0.0, held), (capacity - held) / rate, -1.0)
    if held + TOLERANCE * max(1.0, capacity) >= cost:
        left = held - cost
        stored = BucketState(left, now_us)
        return BucketStep(True, stored, max(0.0, left), (capacity - left) / rate, 0.0)
    wait = (cost - held) / rate
    return BucketStep(False, None, max(0.0, held), (capacity - held) / rate, wait)


def adjust(
    state: BucketState | None, now_us: int, capacity: float, rate: float, delta: float
) -> BucketState:
    """The state after charging ``delta`` more (a refund when negative; it fills at most)."""
    return BucketState(min(capacity, level(state, now_us, capacity, rate) - delta), now_us)


def full_at(state: BucketState, capacity: float, rate: float) -> float:
    """When (seconds) the bucket is full again, so its state may be forgotten."""
    return state.stamp / MICROS + (capacity - state.tokens) / rate
