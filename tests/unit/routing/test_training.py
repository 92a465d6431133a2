"""Training finds a planted signal, out of fold, and ships a consistent calibrated model."""

from __future__ import annotations

import numpy as np
import pytest

from pointsman.routing.classifier import ComplexityClassifier, Label
from pointsman.routing.evaluation import metrics
from pointsman.routing.features import extract
from pointsman.routing.logistic import (
    Standardizer,
    build_vocabulary,
    design,
    fit_logistic,
    vocabulary_index,
)
from pointsman.routing.outcomes import Outcomes
from pointsman.routing.training import cross_validated_need, fit_calibration, train

from .conftest import synthetic


def apgr(need: np.ndarray, outcomes: Outcomes) -> float:
    zero = np.zeros(len(need))
    return float(metrics.apgr(metrics.sweep(need, outcomes.weak, outcomes.strong, zero, zero))[0])


def test_logistic_head_learns_a_keyword() -> None:
    texts = [f"alpha {i}" for i in range(100)] + [f"beta {i}" for i in range(100)]
    features = [extract(t) for t in texts]
    index = vocabulary_index(build_vocabulary(features, 100))
    x = design(features, index, Standardizer.fit(np.array([f.dense for f in features])))
    y = np.array([1.0] * 100 + [0.0] * 100)
    head = fit_logistic(x, y, l2=1e-3)
    assert head.sparse[index["alpha"]] > 1.0 > -1.0 > head.sparse[index["beta"]]


def test_out_of_fold_need_recovers_the_planted_signal(outcomes: Outcomes) -> None:
    need = cross_validated_need(outcomes, "gain", folds=3, seed=0, max_features=2000)
    assert apgr(need, outcomes) > 0.8
    hard = np.array(["integral" in p for p in outcomes.prompts])
    easy = np.array(["capital" in p for p in outcomes.prompts])
    assert need[hard].mean() > need[~hard & ~easy].mean() > need[easy].mean()


def test_gain_beats_the_single_head_labels_on_data_with_weak_wins(outcomes: Outcomes) -> None:
    labels: tuple[Label, ...] = ("gain", "strong-better", "weak-ok")
    scores = {
        label: apgr(cross_validated_need(outcomes, label, 3, 0, 2000), outcomes) for label in labels
    }
    assert scores["gain"] > scores["weak-ok"]
    assert scores["gain"] >= scores["strong-better"] - 0.02


def test_out_of_fold_scores_ignore_the_scored_rows_outcomes(outcomes: Outcomes) -> None:
    # Flipping the outcomes of one fold's rows must not change that fold's scores.
    from pointsman.routing.outcomes import fold_of_rows

    fold = fold_of_rows(outcomes.prompts, 3, seed=0)
    flipped = Outcomes(
        "flipped",
        outcomes.prompts,
        np.where(fold == 0, outcomes.strong, outcomes.weak),
        np.where(fold == 0, outcomes.weak, outcomes.strong),
        "binary",
    )
    before = cross_validated_need(outcomes, "gain", 3, 0, 2000)
    after = cross_validated_need(flipped, "gain", 3, 0, 2000)
    np.testing.assert_allclose(before[fold == 0], after[fold == 0])
    assert not np.allclose(before[fold == 1], after[fold == 1])


def test_trained_model_is_calibrated_and_consistent(
    classifier: ComplexityClassifier, outcomes: Outcomes
) -> None:
    assert classifier.calibration is not None and classifier.calibration.slope < 0
    details = classifier.training.details
    assert details["prompts"] == len(outcomes) and details["out_of_fold"]["apgr"] > 0.8
    features = [extract(p) for p in outcomes.prompts[:50]]
    batch = classifier.need_many(features)
    single = [classifier.need_and_coverage(f)[0] for f in features]
    np.testing.assert_allclose(batch, single, rtol=1e-9, atol=1e-12)
    assert all(classifier.seen_in_training(p) for p in outcomes.prompts[:10])
    assert not classifier.seen_in_training("a prompt it never saw")


def test_share_threshold_matches_training_share(
    classifier: ComplexityClassifier, outcomes: Outcomes
) -> None:
    threshold = classifier.threshold_for_strong_share(0.25)
    below = np.mean([classifier.score(p) < threshold for p in outcomes.prompts])
    # the table is fitted on out-of-fold scores, the final model scores in-sample: close only
    assert 0.15 < below < 0.35


def test_calibration_refuses_data_without_signal() -> None:
    noise = synthetic(120, seed=2)
    reversed_need = -(noise.strong - noise.weak)
    with pytest.raises(ValueError, match="no usable signal"):
        fit_calibration(reversed_need, noise)


def test_training_is_deterministic(outcomes: Outcomes) -> None:
    small = outcomes.subset(np.arange(120))
    first = train(small, folds=3, seed=4, max_features=500)
    second = train(small, folds=3, seed=4, max_features=500)
    assert first.to_dict() == second.to_dict()
