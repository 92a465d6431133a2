"""One evaluation: every router on one outcome table, with the same bootstrap resamples.

Because every router is resampled identically, differences between routers get their own
(paired) intervals: each result carries ``apgr_vs_baseline``, its APGR minus the baseline
router's (prompt length by default) with a 95 % interval over the shared resamples.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from pointsman.routing.evaluation import metrics
from pointsman.routing.evaluation.routers import ClassifierRouter, Router
from pointsman.routing.outcomes import Outcomes

Floats = npt.NDArray[np.float64]
TOKENS_PER_PRICE_UNIT = 1_000_000  # prices are USD per million tokens
BASELINE = "prompt-length"


@dataclass(slots=True, frozen=True)
class Prices:
    """USD per million tokens for the weak and the strong model."""

    weak: float
    strong: float


@dataclass(slots=True)
class RouterResult:
    name: str
    description: str
    curve: metrics.Curves
    figures: dict[str, metrics.Figure]
    in_sample_share: float | None = None  # share of prompts the router was trained on
    seconds: float = 0.0
    replicate_apgr: Floats = field(default_factory=lambda: np.zeros(0))
    apgr_vs_baseline: metrics.Figure | None = None

    @property
    def note(self) -> str:
        if self.in_sample_share:
            return f"IN-SAMPLE: trained on {self.in_sample_share:.0%} of these prompts"
        return ""


@dataclass(slots=True)
class Evaluation:
    outcomes: Outcomes
    prices: Prices | None
    replicates: int
    seed: int
    results: list[RouterResult] = field(default_factory=list)


def evaluate(
    outcomes: Outcomes,
    routers: Sequence[Router],
    prices: Prices | None,
    replicates: int = 1000,
    seed: int = 0,
    progress: Callable[[str], None] | None = None,
    baseline: str = BASELINE,
) -> Evaluation:
    """Score ``outcomes`` with each router and summarise its curve (paired bootstrap: one seed,
    identical resamples for all routers). Without prices, cost figures are NaN. When a router
    named ``baseline`` is in the line-up, every result gets its paired APGR difference to it."""
    import time

    if prices is None:
        weak_cost = strong_cost = np.zeros(len(outcomes))
    else:
        weak_cost = outcomes.weak_tokens * prices.weak / TOKENS_PER_PRICE_UNIT
        strong_cost = outcomes.strong_tokens * prices.strong / TOKENS_PER_PRICE_UNIT
    evaluation = Evaluation(outcomes, prices, replicates, seed)
    for router in routers:
        if progress:
            progress(router.name)
        started = time.perf_counter()
        need = router.need(outcomes)
        curve, figures, replicate_apgr = metrics.summarize(
            need, outcomes.weak, outcomes.strong, weak_cost, strong_cost, replicates, seed
        )
        if prices is None:
            for name in list(figures):
                if "cost" in name:
                    figures[name] = metrics.Figure(float("nan"), float("nan"), float("nan"))
        seen = router.seen_share(outcomes) if isinstance(router, ClassifierRouter) else None
        evaluation.results.append(
            RouterResult(
                router.name,
                router.description,
                curve,
                figures,
                seen,
                time.perf_counter() - started,
                replicate_apgr,
            )
        )
    _compare(evaluation.results, baseline)
    return evaluation


def _compare(results: list[RouterResult], baseline: str) -> None:
    reference = next((r for r in results if r.name == baseline), None)
    if reference is None:
        return
    for result in results:
        value = result.figures["apgr"].value - reference.figures["apgr"].value
        low, high = metrics.percentile_interval(result.replicate_apgr - reference.replicate_apgr)
        result.apgr_vs_baseline = metrics.Figure(value, low, high)
