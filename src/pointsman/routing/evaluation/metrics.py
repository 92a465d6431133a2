"""Quality-versus-cost curves of a router from an exact threshold sweep, and their summary figures.

A router gives each prompt a ``need`` score (higher: send to the strong model). Sweeping the
threshold over every distinct score, from above, routes prompts to the strong model group by
group; prompts with equal scores move together (a threshold cannot split them). Each step is one
curve point: (share of strong calls, mean quality, mean cost per request); the first point is
"all weak", the last "all strong". Between points the curve is linear, which is also the
expectation under random tie-breaking.

Figures (as in the RouteLLM paper, Ong et al. 2025):

* APGR: area under the performance-gap-recovered curve, ``(AUC - q_weak) / (q_strong - q_weak)``
  over strong share 0..1 (trapezoid rule on the exact points); random routing scores 0.5.
* CPT(x): the strong share at which the curve first reaches ``q_weak + x (q_strong - q_weak)``,
  interpolated linearly inside the crossing segment.
* quality at a given strong share, and the share and cost at which the curve first reaches an
  absolute quality (e.g. 95 % of the strong model's quality).

Every function works on a batch of curves at once (one row per bootstrap replicate), so the
bootstrap in :func:`summarize` costs a few vectorised passes. Figures are NaN when undefined (the
strong model no better than the weak one, or a target the curve never reaches).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

Floats = npt.NDArray[np.float64]


@dataclass(slots=True, frozen=True)
class Curves:
    """``share``, ``quality`` and ``cost`` of shape (curves, points); point 0 is all-weak."""

    share: Floats
    quality: Floats
    cost: Floats

    @property
    def weak_quality(self) -> Floats:
        return self.quality[:, 0]

    @property
    def strong_quality(self) -> Floats:
        return self.quality[:, -1]


def sweep(
    need: Floats,
    weak: Floats,
    strong: Floats,
    weak_cost: Floats,
    strong_cost: Floats,
    weights: Floats | None = None,
) -> Curves:
    """The exact-sweep curves of one router; one curve per row of ``weights`` (default: one
    curve, every prompt counted once). ``weights`` are per-prompt counts such as a bootstrap
    resample's."""
    n = len(need)
    if n == 0:
        raise ValueError("cannot sweep an empty table")
    counts = np.ones((1, n)) if weights is None else np.atleast_2d(weights)
    order = np.argsort(-need, kind="stable")
    ordered = need[order]
    ends = np.flatnonzero(np.append(ordered[1:] != ordered[:-1], True)) + 1  # group ends
    c = counts[:, order]
    total = c.sum(axis=1, keepdims=True)
    gain = np.cumsum(c * (strong - weak)[order], axis=1)[:, ends - 1]
    extra = np.cumsum(c * (strong_cost - weak_cost)[order], axis=1)[:, ends - 1]
    moved = np.cumsum(c, axis=1)[:, ends - 1]
    base_quality = (c * weak[order]).sum(axis=1, keepdims=True)
    base_cost = (c * weak_cost[order]).sum(axis=1, keepdims=True)
    zero = np.zeros((c.shape[0], 1))
    return Curves(
        np.hstack([zero, moved]) / total,
        (base_quality + np.hstack([zero, gain])) / total,
        (base_cost + np.hstack([zero, extra])) / total,
    )


def apgr(curves: Curves) -> Floats:
    """Average performance gap recovered per curve."""
    auc = np.trapezoid(curves.quality, curves.share, axis=1)
    gap = curves.strong_quality - curves.weak_quality
    with np.errstate(divide="ignore", invalid="ignore"):
        result: Floats = np.where(gap > 0, (auc - curves.weak_quality) / gap, np.nan)
    return result


def _first_crossing(values: Floats, target: Floats) -> tuple[Floats, Floats]:
    """Row-wise fractional position where ``values`` first reaches ``target``: (index, t) such
    that the crossing lies at ``t`` of the way from point ``index - 1`` to ``index``; index -1
    when never reached."""
    reached = values >= target[:, None] - 1e-12
    hit = reached.any(axis=1)
    index = np.where(hit, reached.argmax(axis=1), -1)
    rows = np.arange(len(values))
    safe = np.maximum(index, 1)
    before, after = values[rows, safe - 1], values[rows, safe]
    with np.errstate(divide="ignore", invalid="ignore"):
        t = np.where(after > before, (target - before) / (after - before), 1.0)
    t = np.where(index == 0, 1.0, np.clip(t, 0.0, 1.0))
    return index.astype(np.float64), t


def _at_crossing(axis: Floats, index: Floats, t: Floats) -> Floats:
    rows = np.arange(len(axis))
    i = np.maximum(index.astype(np.intp), 1)
    value = axis[rows, i - 1] + t * (axis[rows, i] - axis[rows, i - 1])
    value = np.where(index == 0, axis[:, 0], value)
    result: Floats = np.where(index < 0, np.nan, value)
    return result


def cpt(curves: Curves, recovered: float) -> Floats:
    """Strong share needed to recover ``recovered`` (0..1) of the quality gap, per curve."""
    gap = curves.strong_quality - curves.weak_quality
    target = curves.weak_quality + recovered * gap
    index, t = _first_crossing(curves.quality, target)
    result: Floats = np.where(gap > 0, _at_crossing(curves.share, index, t), np.nan)
    return result


def reach(curves: Curves, quality: Floats) -> tuple[Floats, Floats]:
    """(strong share, cost per request) where each curve first reaches absolute ``quality``."""
    index, t = _first_crossing(curves.quality, quality)
    return _at_crossing(curves.share, index, t), _at_crossing(curves.cost, index, t)


def at_share(curves: Curves, share: float) -> tuple[Floats, Floats]:
    """(quality, cost per request) of each curve at strong share ``share`` (0..1)."""
    quality = np.array(
        [np.interp(share, s, q) for s, q in zip(curves.share, curves.quality, strict=True)]
    )
    cost = np.array(
        [np.interp(share, s, c) for s, c in zip(curves.share, curves.cost, strict=True)]
    )
    return quality, cost


def recovered_at(curves: Curves, share: float) -> Floats:
    """Share of the quality gap recovered at strong share ``share``, per curve."""
    quality, _ = at_share(curves, share)
    gap = curves.strong_quality - curves.weak_quality
    with np.errstate(divide="ignore", invalid="ignore"):
        result: Floats = np.where(gap > 0, (quality - curves.weak_quality) / gap, np.nan)
    return result


def resample_counts(n: int, replicates: int, rng: np.random.Generator) -> Floats:
    """Bootstrap weights: per replicate, how often each of ``n`` rows was drawn (with
    replacement, ``n`` draws)."""
    result: Floats = rng.multinomial(n, np.full(n, 1.0 / n), size=replicates).astype(np.float64)
    return result


def percentile_interval(values: Floats, level: float = 0.95) -> tuple[float, float]:
    """The central ``level`` percentile interval of the finite ``values`` (NaN when none)."""
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return (float("nan"), float("nan"))
    tail = (1.0 - level) / 2 * 100
    low, high = np.percentile(finite, [tail, 100 - tail])
    return (float(low), float(high))


SHARES = (0.10, 0.20, 0.30, 0.50)
RECOVERED = (0.50, 0.80, 0.95)
STRONG_QUALITY_TARGET = 0.95
CHUNK = 250


@dataclass(slots=True, frozen=True)
class Figure:
    """A point estimate and its bootstrap percentile interval (NaN when undefined)."""

    value: float
    low: float
    high: float


def _figures(curves: Curves) -> dict[str, Floats]:
    figures = {"apgr": apgr(curves)}
    for recovered in RECOVERED:
        figures[f"cpt{round(recovered * 100)}"] = cpt(curves, recovered)
    for share in SHARES:
        quality, _ = at_share(curves, share)
        figures[f"quality_at_{round(share * 100)}"] = quality
        figures[f"recovered_at_{round(share * 100)}"] = recovered_at(curves, share)
    reached_share, cost = reach(curves, STRONG_QUALITY_TARGET * curves.strong_quality)
    all_strong = curves.cost[:, -1]
    figures["share_for_95pct_strong_quality"] = reached_share
    figures["cost_for_95pct_strong_quality"] = cost
    with np.errstate(divide="ignore", invalid="ignore"):
        figures["relative_cost_for_95pct_strong_quality"] = np.where(
            all_strong > 0, cost / all_strong, np.nan
        )
    return figures


def summarize(
    need: Floats,
    weak: Floats,
    strong: Floats,
    weak_cost: Floats,
    strong_cost: Floats,
    replicates: int,
    seed: int,
) -> tuple[Curves, dict[str, Figure], Floats]:
    """The exact-sweep curve of one router, every figure with a 95 % bootstrap interval, and the
    APGR of each bootstrap replicate (for paired comparisons between routers).

    ``weak_cost``/``strong_cost`` are per-prompt costs (USD). The bootstrap resamples prompts
    with replacement ``replicates`` times (router scores held fixed: the interval reflects
    which prompts were evaluated, not training noise); ``replicates=0`` gives NaN intervals.
    One ``seed`` gives the same resamples for every router of a table (a paired bootstrap).
    """
    curve = sweep(need, weak, strong, weak_cost, strong_cost)
    point: dict[str, float] = {name: float(v[0]) for name, v in _figures(curve).items()}
    samples: dict[str, list[Floats]] = {name: [] for name in point}
    rng = np.random.default_rng(seed)
    for start in range(0, replicates, CHUNK):
        counts = resample_counts(len(need), min(CHUNK, replicates - start), rng)
        chunk = sweep(need, weak, strong, weak_cost, strong_cost, counts)
        for name, values in _figures(chunk).items():
            samples[name].append(values)
    figures = {}
    for name, value in point.items():
        low, high = (
            percentile_interval(np.concatenate(samples[name]))
            if replicates
            else (float("nan"), float("nan"))
        )
        figures[name] = Figure(value, low, high)
    replicate_apgr = np.concatenate(samples["apgr"]) if replicates else np.zeros(0)
    return curve, figures, replicate_apgr
