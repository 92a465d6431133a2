"""How a classifier's raw ranking score becomes a probability and a threshold.

A model ranks prompts by ``need`` (higher: the strong model is more likely to add quality). The
calibration shipped with it, fitted on out-of-fold predictions over its training data, gives:

* ``probability(need)``: P(cheap tier good enough), a Platt fit ``sigmoid(slope*need +
  intercept)`` with ``slope < 0``; monotone, so thresholds on it keep the ranking.
* ``threshold_for_strong_share(share)``: the probability threshold below which that share of the
  calibration prompts would go to the strong tier. Table of 101 entries (0 %, 1 %, ... 100 %),
  linearly interpolated in between.
* ``threshold_for_quality(target)``: the threshold at the smallest strong share that recovered
  ``target`` of the weak-to-strong quality gap on the calibration prompts (out of fold).

Both tables describe the calibration prompts; on traffic that looks different the realised share
and quality differ, which is why :meth:`Calibration.with_traffic` can refit the share table from a
sample of real prompts' probabilities.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

TABLE_POINTS = 101


@dataclass(slots=True, frozen=True)
class Calibration:
    """Platt parameters and the per-percent tables (see the module docstring)."""

    slope: float
    intercept: float
    share_thresholds: tuple[float, ...]
    share_quality: tuple[float, ...]

    def __post_init__(self) -> None:
        if self.slope >= 0:
            raise ValueError("calibration slope must be negative (more need, less chance)")
        for table in (self.share_thresholds, self.share_quality):
            if len(table) != TABLE_POINTS:
                raise ValueError(f"calibration tables need {TABLE_POINTS} entries")

    def probability(self, need: float) -> float:
        """P(cheap tier good enough) for a raw ``need`` score."""
        z = self.slope * need + self.intercept
        return 0.5 * (1.0 + math.tanh(0.5 * z))

    def threshold_for_strong_share(self, share: float) -> float:
        """Threshold such that ``share`` (0..1) of calibration prompts score below it.

        ``share <= 0`` gives ``-inf`` (never route up on score), ``share >= 1`` gives ``inf``.
        """
        if share <= 0:
            return -math.inf
        if share >= 1:
            return math.inf
        position = share * (TABLE_POINTS - 1)
        low = int(position)
        fraction = position - low
        table = self.share_thresholds
        return table[low] + fraction * (table[low + 1] - table[low])

    def threshold_for_quality(self, target: float) -> float:
        """Threshold recovering ``target`` (0..1) of the weak-to-strong quality gap.

        Picks the smallest tabulated strong share whose calibration quality reached ``target``;
        ``inf`` (everything to the strong tier) when no share below 100 % did.
        """
        for percent, recovered in enumerate(self.share_quality):
            if recovered >= target:
                return self.threshold_for_strong_share(percent / (TABLE_POINTS - 1))
        return math.inf

    def with_traffic(self, probabilities: Sequence[float]) -> Calibration:
        """This calibration with the share table refitted to ``probabilities`` of real traffic."""
        return Calibration(
            self.slope,
            self.intercept,
            share_table(np.asarray(probabilities, dtype=np.float64)),
            self.share_quality,
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "platt": {"slope": self.slope, "intercept": self.intercept},
            "strong_share_thresholds": [round(t, 8) for t in self.share_thresholds],
            "strong_share_quality": [round(q, 6) for q in self.share_quality],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Calibration:
        return cls(
            float(data["platt"]["slope"]),
            float(data["platt"]["intercept"]),
            tuple(float(t) for t in data["strong_share_thresholds"]),
            tuple(float(q) for q in data["strong_share_quality"]),
        )


def share_table(probabilities: np.ndarray[Any, np.dtype[np.float64]]) -> tuple[float, ...]:
    """Thresholds at 0, 1, ... 100 % strong share for these probabilities.

    Entry ``p`` lies midway between the ``k``-th and ``k+1``-th smallest probability, with
    ``k = round(p% * n)``, so exactly ``k`` of them fall below it; the ends are 0.0 and 1.0.
    """
    ordered = np.sort(probabilities)
    n = len(ordered)
    if n < 2:
        raise ValueError("need at least two probabilities to tabulate thresholds")
    table = [0.0]
    for percent in range(1, TABLE_POINTS - 1):
        k = min(max(round(percent / (TABLE_POINTS - 1) * n), 1), n - 1)
        table.append(float((ordered[k - 1] + ordered[k]) / 2))
    table.append(1.0)
    return tuple(table)
