"""The global retry budget: extra attempts stay a bounded share of traffic (no retry storms).

After Finagle's ``RetryBudget`` and Envoy's ``retry_budget``: over a sliding window, extra
attempts (same-deployment retries, fallbacks after a failure, hedged attempts) may not exceed
``ratio`` x requests + ``min_per_window``. The floor lets a quiet gateway still retry; the ratio
caps amplification under load at ``1 + ratio`` upstream calls per request, whatever fails.
"""

from __future__ import annotations

from pointsman.reliability.settings import BudgetSettings
from pointsman.reliability.window import SlidingCounts


class RetryBudget:
    """Counts requests and extra attempts; grants an extra attempt only while under budget.

    Not shared between replicas: each enforces the ratio on its own traffic, which bounds the
    fleet's amplification by the same ratio. Single event loop; every method is O(1) except
    :meth:`try_spend`, which sums ten slots.
    """

    __slots__ = ("_counts", "exhausted", "settings")

    def __init__(self, settings: BudgetSettings) -> None:
        self.settings = settings
        self._counts = SlidingCounts(settings.window)  # a: requests, b: extra attempts
        self.exhausted = 0  # extra attempts refused, ever

    def reconfigure(self, settings: BudgetSettings) -> None:
        if settings.window != self.settings.window:
            self._counts = SlidingCounts(settings.window)
        self.settings = settings

    def record_request(self, now: float) -> None:
        """Count one client request (its first attempt is always free)."""
        self._counts.add(now, a=1)

    def allowance(self, now: float) -> float:
        """Extra attempts still allowed in the window ending at ``now`` (may be negative)."""
        requests, extra = self._counts.totals(now)
        return self.settings.ratio * requests + self.settings.min_per_window - extra

    def try_spend(self, now: float) -> bool:
        """Take one extra attempt from the budget; False (and counted) when none is left."""
        if self.allowance(now) >= 1:
            self._counts.add(now, b=1)
            return True
        self.exhausted += 1
        return False

    def snapshot(self, now: float) -> dict[str, float]:
        requests, extra = self._counts.totals(now)
        return {
            "window_s": self.settings.window,
            "requests": requests,
            "extra_attempts": extra,
            "allowance": max(0.0, self.allowance(now)),
            "refused_total": self.exhausted,
        }
