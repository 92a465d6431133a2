"""Request counters of a simulator: total, per outcome, per model and outcome."""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Any

__all__ = ["Stats"]


class Stats:
    """Request counters: total, per outcome, and per model and outcome.

    Outcomes: ``ok``, ``error_<status>`` (injected faults), ``disconnect``, ``timeout``, and
    ``rejected_<status>`` (the request itself was refused: bad request, unknown model, auth).
    """

    def __init__(self) -> None:
        self._models: defaultdict[str, Counter[str]] = defaultdict(Counter)

    def record(self, model: str, outcome: str) -> None:
        """Count one request to ``model`` that ended with ``outcome``."""
        self._models[model][outcome] += 1

    @property
    def total(self) -> int:
        """Requests counted."""
        return sum(self.outcomes.values())

    @property
    def outcomes(self) -> Counter[str]:
        """Requests per outcome, over all models."""
        totals: Counter[str] = Counter()
        for counts in self._models.values():
            totals.update(counts)
        return totals

    def model(self, name: str) -> dict[str, int]:
        """Requests to model ``name`` per outcome."""
        return dict(self._models.get(name, {}))

    def snapshot(self) -> dict[str, Any]:
        """A JSON-ready copy: ``{"total", "outcomes": {...}, "models": {model: {...}}}``."""
        outcomes = self.outcomes
        return {
            "total": sum(outcomes.values()),
            "outcomes": dict(outcomes),
            "models": {model: dict(counts) for model, counts in self._models.items()},
        }

    def clear(self) -> None:
        """Forget every count."""
        self._models.clear()
