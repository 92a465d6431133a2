"""Property tests of the limit algorithms against their definitions, with an injected clock.

* Sliding-window log: no window of ``W`` seconds ever holds more than the limit, and a request is
  refused only when the window it falls in is really full (neither too many nor too few).
* Cost bucket: over any run, admitted cost never exceeds burst + rate * elapsed, and with demand
  always waiting it reaches exactly that.
"""

from __future__ import annotations

import asyncio

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from pointsman.errors import RateLimitError
from pointsman.governance.limits import LimitBook, LimitSpec, RateLimiter
from pointsman.state.memory import MemoryBackend

EPOCH = 1_700_000_000.0
WINDOW = 60.0


class Clock:
    def __init__(self) -> None:
        self.now = EPOCH

    def __call__(self) -> float:
        return self.now


# Arrival gaps in whole milliseconds keep times exact, as a real clock's would be.
gaps = st.lists(st.integers(0, 20_000).map(lambda ms: ms / 1000), min_size=1, max_size=150)


@settings(max_examples=150, deadline=None)
@given(limit=st.integers(1, 12), arrivals=gaps, weights=st.lists(st.integers(0, 40), max_size=150))
def test_sliding_window_admits_exactly_what_fits(
    limit: int, arrivals: list[float], weights: list[int]
) -> None:
    """Weighted (TPM) when weights are drawn, plain counts (RPM) otherwise."""
    clock = Clock()
    weighted = bool(weights)
    spec = LimitSpec(tpm=limit * 10) if weighted else LimitSpec(rpm=limit)
    cap = limit * 10 if weighted else limit
    rl = RateLimiter(MemoryBackend(clock=clock), LimitBook(keys={"k": spec}), window=WINDOW)
    admitted: list[tuple[float, int]] = []

    async def run() -> None:
        for i, gap in enumerate(arrivals):
            clock.now += gap
            cost = weights[i % len(weights)] if weighted else 1
            in_window = sum(w for t, w in admitted if t > clock.now - WINDOW)
            try:
                await rl.admit(key="k", team=None, model=None, tokens=cost)
            except RateLimitError:
                assert in_window + cost > cap  # refused only when it really does not fit
                continue
            assert in_window + cost <= cap
            admitted.append((clock.now, cost))

    asyncio.run(run())
    for t, _ in admitted:  # no window of WINDOW seconds ever holds more than the limit
        assert sum(w for s, w in admitted if t - WINDOW < s <= t) <= cap


@settings(max_examples=60, deadline=None)
@given(
    per_second_usd=st.sampled_from([0.001, 0.0025, 0.01, 0.3]),
    burst_seconds=st.integers(1, 30),
    cost_seconds=st.sampled_from([0.05, 0.3, 1.0, 2.5]),  # one request's cost, in refill time
    tick_ms=st.sampled_from([10, 50, 250]),
    seconds=st.integers(1, 20),
)
def test_cost_bucket_admits_burst_plus_rate_times_time(
    per_second_usd: float, burst_seconds: int, cost_seconds: float, tick_ms: int, seconds: int
) -> None:
    clock = Clock()
    rate = per_second_usd * 1_000_000  # micro-USD per second
    burst = rate * burst_seconds
    cost = max(1, round(rate * cost_seconds))
    spec = LimitSpec(usd_per_second=per_second_usd, burst_usd=per_second_usd * burst_seconds)
    rl = RateLimiter(MemoryBackend(clock=clock), LimitBook(keys={"k": spec}))

    async def run() -> int:
        spent = 0
        for n in range(seconds * 1000 // tick_ms + 1):
            elapsed = n * tick_ms / 1000  # exact; the backend counts whole microseconds
            clock.now = EPOCH + elapsed
            while True:
                try:
                    await rl.admit(key="k", team=None, model=None, tokens=0, cost=cost)
                except RateLimitError:
                    break
                spent += cost
                assert spent <= burst + rate * elapsed + 1e-6
        return spent

    # Exact only when the bucket cannot overflow between two polls (then refill is rightly lost).
    assume(burst >= cost + rate * tick_ms / 1000)
    spent = asyncio.run(run())
    # Demand never lets up, so everything that refilled was taken, to within one request.
    assert burst + rate * seconds - cost < spent <= burst + rate * seconds + 1e-6
