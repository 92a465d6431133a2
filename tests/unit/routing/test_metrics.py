"""Exact-sweep curves and their figures, checked against hand-computed values."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pointsman.routing.evaluation import metrics

WEAK = np.array([0.0, 1.0, 0.0, 1.0])
STRONG = np.array([1.0, 1.0, 1.0, 0.0])
ZERO = np.zeros(4)


def curve(
    need: list[float], weak: np.ndarray = WEAK, strong: np.ndarray = STRONG
) -> metrics.Curves:
    return metrics.sweep(np.array(need), weak, strong, np.zeros(len(need)), np.zeros(len(need)))


def test_sweep_points_follow_the_score_order() -> None:
    c = curve([4, 3, 2, 1])
    assert c.share[0].tolist() == [0.0, 0.25, 0.5, 0.75, 1.0]
    assert c.quality[0].tolist() == [0.5, 0.75, 0.75, 1.0, 0.75]


def test_apgr_cpt_and_quality_match_hand_computation() -> None:
    c = curve([4, 3, 2, 1])
    # trapezoid area 0.78125; (0.78125 - 0.5) / (0.75 - 0.5)
    assert metrics.apgr(c)[0] == pytest.approx(1.125)
    assert metrics.cpt(c, 0.5)[0] == pytest.approx(0.125)
    assert metrics.cpt(c, 0.95)[0] == pytest.approx(0.2375)
    quality, _ = metrics.at_share(c, 0.6)
    assert quality[0] == pytest.approx(0.85)
    assert metrics.recovered_at(c, 0.6)[0] == pytest.approx(1.4)


def test_tied_scores_move_together() -> None:
    c = curve([1, 1, 0, 0])
    assert c.share[0].tolist() == [0.0, 0.5, 1.0]
    assert metrics.apgr(c)[0] == pytest.approx(0.75)


def test_constant_scores_are_the_random_diagonal() -> None:
    c = curve([7, 7, 7, 7])
    assert metrics.apgr(c)[0] == pytest.approx(0.5)
    for x in (0.2, 0.5, 0.8):
        assert metrics.cpt(c, x)[0] == pytest.approx(x)


def test_undefined_figures_are_nan() -> None:
    same = np.array([1.0, 0.0, 1.0, 0.0])
    c = curve([4, 3, 2, 1], weak=same, strong=same)
    assert math.isnan(metrics.apgr(c)[0])
    assert math.isnan(metrics.cpt(c, 0.5)[0])
    share, cost = metrics.reach(curve([4, 3, 2, 1]), np.array([2.0]))
    assert math.isnan(share[0]) and math.isnan(cost[0])


def test_cost_follows_the_routed_prompts() -> None:
    weak_cost = np.array([1.0, 1.0, 1.0, 1.0])
    strong_cost = np.array([10.0, 20.0, 30.0, 40.0])
    c = metrics.sweep(np.array([4.0, 3, 2, 1]), WEAK, STRONG, weak_cost, strong_cost)
    assert c.cost[0].tolist() == pytest.approx([1.0, 3.25, 8.0, 15.25, 25.0])
    # 95 % of the strong quality (0.7125) is reached 85 % of the way into the first step
    share, cost = metrics.reach(c, np.array([0.95 * 0.75]))
    assert share[0] == pytest.approx(0.2125)
    assert cost[0] == pytest.approx(1.0 + 0.85 * 2.25)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 3), st.booleans(), st.booleans(), st.integers(0, 3)),
        min_size=2,
        max_size=30,
    )
)
def test_weights_equal_repeated_rows(rows: list[tuple[int, bool, bool, int]]) -> None:
    need = np.array([r[0] for r in rows], dtype=float)
    weak = np.array([r[1] for r in rows], dtype=float)
    strong = np.array([r[2] for r in rows], dtype=float)
    counts = np.array([r[3] for r in rows], dtype=float)
    if counts.sum() == 0:
        return
    zero = np.zeros(len(rows))
    weighted = metrics.sweep(need, weak, strong, zero, zero, counts[None, :])
    keep = np.repeat(np.arange(len(rows)), counts.astype(int))
    z = np.zeros(len(keep))
    repeated = metrics.sweep(need[keep], weak[keep], strong[keep], z, z)
    np.testing.assert_allclose(metrics.apgr(weighted), metrics.apgr(repeated), equal_nan=True)
    np.testing.assert_allclose(
        metrics.cpt(weighted, 0.8), metrics.cpt(repeated, 0.8), equal_nan=True
    )


def test_bootstrap_is_paired_and_deterministic() -> None:
    rng = np.random.default_rng(3)
    n = 300
    weak = (rng.random(n) < 0.6).astype(float)
    strong = (rng.random(n) < 0.8).astype(float)
    need = strong - weak + rng.normal(0, 1, n)
    zero = np.zeros(n)
    _, first, _ = metrics.summarize(need, weak, strong, zero, zero, 200, seed=5)
    _, again, _ = metrics.summarize(need, weak, strong, zero, zero, 200, seed=5)
    _, other, _ = metrics.summarize(need, weak, strong, zero, zero, 200, seed=6)
    assert first["apgr"] == again["apgr"] and first["cpt80"] == again["cpt80"]
    assert first["apgr"] != other["apgr"]
    apgr = first["apgr"]
    assert apgr.low < apgr.value < apgr.high
    assert apgr.high - apgr.low < 0.3
    _, none, _ = metrics.summarize(need, weak, strong, zero, zero, 0, seed=5)
    assert none["apgr"].value == apgr.value and math.isnan(none["apgr"].low)


def test_percentile_interval_ignores_nan() -> None:
    low, high = metrics.percentile_interval(np.array([np.nan, 1.0, 2.0, 3.0]), level=1.0)
    assert (low, high) == (1.0, 3.0)
    assert all(math.isnan(v) for v in metrics.percentile_interval(np.array([np.nan])))
