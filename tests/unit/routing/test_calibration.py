"""Thresholds by target strong share and by target quality."""

from __future__ import annotations

import math

import numpy as np
import pytest

from pointsman.routing.calibration import TABLE_POINTS, Calibration, share_table


def calibration() -> Calibration:
    probabilities = np.linspace(0.005, 0.995, 100)
    quality = tuple(min(1.0, p / 50) for p in range(TABLE_POINTS))  # 100 % recovered at 50 %
    return Calibration(-2.0, 1.0, share_table(probabilities), quality)


def test_share_table_splits_the_probabilities() -> None:
    probabilities = np.linspace(0.005, 0.995, 100)
    table = share_table(probabilities)
    assert table[0] == 0.0 and table[-1] == 1.0
    for percent in (1, 10, 30, 77, 99):
        assert (probabilities < table[percent]).sum() == percent


def test_threshold_for_strong_share_interpolates_and_clamps() -> None:
    c = calibration()
    assert c.threshold_for_strong_share(0.0) == -math.inf
    assert c.threshold_for_strong_share(1.0) == math.inf
    low, high = c.threshold_for_strong_share(0.30), c.threshold_for_strong_share(0.31)
    assert low < c.threshold_for_strong_share(0.305) < high


def test_threshold_for_quality_uses_the_smallest_share() -> None:
    c = calibration()
    assert c.threshold_for_quality(0.5) == c.threshold_for_strong_share(0.25)
    assert c.threshold_for_quality(1.0) == c.threshold_for_strong_share(0.50)
    assert c.threshold_for_quality(1.5) == math.inf


def test_probability_is_platt_and_decreasing() -> None:
    c = calibration()
    assert c.probability(0.5) == pytest.approx(0.5)
    assert c.probability(1.0) < c.probability(0.0)


def test_round_trip_and_validation() -> None:
    c = calibration()
    assert Calibration.from_dict(c.to_dict()).threshold_for_strong_share(0.4) == pytest.approx(
        c.threshold_for_strong_share(0.4)
    )
    with pytest.raises(ValueError, match="slope"):
        Calibration(1.0, 0.0, c.share_thresholds, c.share_quality)
    with pytest.raises(ValueError, match="entries"):
        Calibration(-1.0, 0.0, (0.0, 1.0), c.share_quality)


def test_refit_to_traffic() -> None:
    c = calibration().with_traffic([0.9] * 50 + [0.1] * 50)
    assert 0.1 < c.threshold_for_strong_share(0.5) < 0.9
    assert c.threshold_for_strong_share(0.2) == pytest.approx(0.1)
