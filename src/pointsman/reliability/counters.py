"""In-memory counters of what the attempt loop did, for ``/metrics`` and ``/health/deployments``.

Plain integer counters keyed by cause (``http_503``, ``timeout_ttft``, ``breaker_open`` ...),
monotonic for the life of the process (a config reload keeps them), so a Prometheus scrape can
turn them into rates. Incrementing one costs a dictionary update.
"""

from __future__ import annotations

from collections import Counter
from typing import Any


class ReliabilityCounters:
    """What happened, counted. Every field only ever grows."""

    def __init__(self) -> None:
        self.requests = 0
        self.attempts: Counter[str] = Counter()  # calls by outcome: "ok" or the failure cause
        self.retries: Counter[str] = Counter()  # same-deployment retries, by the cause retried
        self.fallbacks: Counter[str] = Counter()  # moves to another deployment, by cause
        self.skips: Counter[str] = Counter()  # deployments passed over: breaker_open ...
        self.redirects: Counter[str] = Counter()  # typed fallbacks: context_window, policy
        self.breaker_transitions: Counter[str] = Counter()  # "closed->open" ...
        self.midstream_failures = 0  # streams cut after bytes reached the client
        self.budget_exhausted = 0  # extra attempts refused by the retry budget
        self.unavailable = 0  # requests answered 503/429 because nothing could serve them
        self.hedges_started = 0
        self.hedges_won = 0  # requests answered by the hedged attempt, not the first one

    def snapshot(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "attempts": dict(self.attempts),
            "retries": dict(self.retries),
            "fallbacks": dict(self.fallbacks),
            "skips": dict(self.skips),
            "redirects": dict(self.redirects),
            "breaker_transitions": dict(self.breaker_transitions),
            "midstream_failures": self.midstream_failures,
            "budget_exhausted": self.budget_exhausted,
            "unavailable": self.unavailable,
            "hedges_started": self.hedges_started,
            "hedges_won": self.hedges_won,
        }
