"""Sliding-window counts and the global retry budget."""

from __future__ import annotations

import pytest

from pointsman.reliability.budget import RetryBudget
from pointsman.reliability.settings import BudgetSettings
from pointsman.reliability.window import SlidingCounts


def test_counts_add_up_within_the_window() -> None:
    counts = SlidingCounts(10.0)
    counts.add(0.5, a=2)
    counts.add(3.2, a=1, b=4)
    counts.add(9.9, b=1)
    assert counts.totals(9.9) == (3, 5)


def test_counts_leave_the_window_after_it_slides_past() -> None:
    counts = SlidingCounts(10.0)  # ten slots of one second
    counts.add(0.5, a=1)
    counts.add(5.5, a=1)
    assert counts.totals(10.4) == (1, 0)  # the slot of 0.5 has left; 5.5 is still in
    assert counts.totals(15.9) == (0, 0)
    counts.add(16.0, b=3)  # a reused slot starts from zero
    assert counts.totals(16.0) == (0, 3)


def test_counts_reject_nonsense() -> None:
    with pytest.raises(ValueError):
        SlidingCounts(0)


def test_budget_allows_the_floor_then_the_ratio() -> None:
    budget = RetryBudget(BudgetSettings(ratio=0.2, min_per_window=2, window=10))
    granted = 0
    for i in range(100):
        budget.record_request(i * 0.01)
        granted += budget.try_spend(i * 0.01)
    # 100 requests in the window: at most 0.2 * 100 + 2 extra attempts, and the budget used it.
    assert granted == 22
    assert budget.exhausted == 100 - 22


def test_budget_refills_as_the_window_slides() -> None:
    budget = RetryBudget(BudgetSettings(ratio=0.0, min_per_window=1, window=1))
    assert budget.try_spend(0.0)
    assert not budget.try_spend(0.5)
    assert budget.try_spend(1.2)  # the first extra attempt has left the window


def test_budget_bounds_amplification_under_a_storm() -> None:
    """Every request failing and wanting a retry: extra attempts stay <= ratio x requests + floor
    over any window, whatever the arrival pattern."""
    settings = BudgetSettings(ratio=0.2, min_per_window=5, window=2)
    budget = RetryBudget(settings)
    granted: list[float] = []
    for i in range(3000):
        now = i * 0.003  # 9 s of traffic at 333 requests/s
        budget.record_request(now)
        if budget.try_spend(now):
            granted.append(now)
    for start in range(0, 9):
        in_window = [t for t in granted if start <= t < start + settings.window]
        assert len(in_window) <= 0.2 * 667 + 5 + 1
    assert budget.snapshot(9.0)["refused_total"] > 2000


def test_cleared_counts_are_empty_even_early_on() -> None:
    counts = SlidingCounts(10.0)
    counts.add(0.5, a=1, b=1)
    counts.clear()
    assert counts.totals(0.6) == (0, 0)
