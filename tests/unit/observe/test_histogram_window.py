"""Fixed-bucket histograms, their quantiles, and the sliding windows of slots."""

from __future__ import annotations

import pytest

from pointsman.observe.histogram import FINE, TPOT, TTFT, Histogram, quantile
from pointsman.observe.window import Ring, Spend, Tally


def test_values_land_in_the_first_bucket_whose_bound_holds_them() -> None:
    histogram = Histogram((0.1, 0.5, 1.0))
    for value in (0.05, 0.1, 0.2, 0.5, 0.7, 3.0):
        histogram.observe(value)
    assert histogram.counts == [2, 2, 1, 1]  # 0.1 and 0.5 are inside their own buckets
    assert histogram.count == 6
    assert histogram.sum == pytest.approx(4.55)
    assert histogram.cumulative() == [("0.1", 2), ("0.5", 4), ("1.0", 5), ("+Inf", 6)]


def test_semantic_convention_bounds_hold_the_default_slo_targets() -> None:
    # the 500 ms TTFT and 50 ms TPOT targets are bucket bounds, so rate(le=target) is exact
    assert 0.5 in TTFT
    assert 0.05 in TPOT


def test_quantile_interpolates_inside_the_bucket() -> None:
    bounds = (1.0, 2.0, 4.0)
    assert quantile(bounds, [0, 10, 0, 0], 0.5) == pytest.approx(1.5)
    assert quantile(bounds, [10, 0, 0, 0], 0.5) == pytest.approx(0.5)  # first bucket from 0
    assert quantile(bounds, [0, 0, 0, 3], 0.99) == 4.0  # +Inf reports the last bound
    assert quantile(bounds, [0, 0, 0, 0], 0.5) is None


def test_fine_buckets_estimate_percentiles_within_their_resolution() -> None:
    histogram = Histogram(FINE)
    values = [0.001 * i for i in range(1, 1001)]  # 1 ms .. 1 s, uniform
    for value in values:
        histogram.observe(value)
    for q, exact in ((0.5, 0.5), (0.95, 0.95), (0.99, 0.99)):
        got = histogram.quantile(q)
        assert got is not None
        assert abs(got - exact) / exact < 0.125


def test_add_and_clear() -> None:
    a, b = Histogram(TTFT), Histogram(TTFT)
    a.observe(0.2)
    b.observe(0.3)
    b.observe(9.0)
    a.add(b)
    assert a.count == 3
    assert a.sum == pytest.approx(9.5)
    a.clear()
    assert a.count == 0
    assert a.sum == 0.0


def test_ring_keeps_only_the_window() -> None:
    ring: Ring[Spend] = Ring(3, 10.0, Spend)
    for now, cost in ((0.0, 1), (5.0, 2), (12.0, 4), (25.0, 8)):
        slot = ring.at(now)
        slot.requests += 1
        slot.cost += cost
    assert ring.total(25.0, Spend()).cost == 15  # periods 0, 1, 2
    assert ring.total(35.0, Spend()).cost == 12  # period 0 has left the window
    slot = ring.at(31.0)  # period 3 reuses period 0's slot: cleared first
    assert (slot.requests, slot.cost) == (0, 0)
    assert [period for period, _ in ring.periods(31.0)] == [1, 2, 3]


def test_ring_reads_skip_slots_never_written() -> None:
    ring: Ring[Tally] = Ring(4, 1.0, Tally)
    ring.at(7.2).requests += 3
    periods = list(ring.periods(9.0))
    assert [p for p, _ in periods] == [6, 7, 8, 9]
    assert [slot is not None for _, slot in periods] == [False, True, False, False]


def test_tally_sums_counts_and_histograms() -> None:
    a, b = Tally(), Tally()
    a.requests, a.met = 2, 1
    a.ttft.observe(0.1)
    b.requests, b.cost = 3, 500
    b.ttft.observe(0.2)
    total = Tally()
    total.add(a)
    total.add(b)
    assert (total.requests, total.met, total.cost) == (5, 1, 500)
    assert total.ttft.count == 2
