"""Training the complexity classifier from per-prompt outcomes (``pointsman route train``).

Procedure, deterministic for a given seed:

1. Features of every prompt (:func:`pointsman.routing.features.extract`).
2. Vocabulary: unigram and bigram keys seen in at least two training prompts, the
   ``max_features`` most frequent.
3. Per head, the L2 penalty is chosen from ``L2_GRID`` (multiples of ``1/n``, i.e. around a
   standard-normal prior on the weights) by log-loss on a held-out fifth of the *training*
   prompts, split by prompt; then the head is refitted on all training prompts.
4. Calibration (:mod:`pointsman.routing.calibration`) comes from out-of-fold ``need`` scores:
   k-fold by prompt (identical prompts share a fold), each fold scored by a model that never saw
   it. The same out-of-fold scores give the honest figures stored in the model file.

:func:`cross_validated_need` is also what ``pointsman route eval`` uses for its "retrained"
router, so evaluation and training run the same code.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from pointsman.routing.calibration import TABLE_POINTS, Calibration, share_table
from pointsman.routing.classifier import (
    LABEL_HEADS,
    ComplexityClassifier,
    Label,
    TrainingInfo,
    prompt_fingerprint,
)
from pointsman.routing.evaluation import metrics
from pointsman.routing.features import Features, extract
from pointsman.routing.logistic import (
    Design,
    LinearHead,
    Standardizer,
    build_vocabulary,
    decision,
    design,
    fit_logistic,
    log_loss,
    vocabulary_index,
)
from pointsman.routing.outcomes import Outcomes, fold_of_rows

Floats = npt.NDArray[np.float64]
DEFAULT_FOLDS = 5
DEFAULT_MAX_FEATURES = 30_000
DEFAULT_LABEL: Label = "gain"
L2_GRID = (0.3, 1.0, 3.0)
SELECTION_FOLDS = 5  # one of five parts of the training prompts is the selection holdout


def head_targets(outcomes: Outcomes, label: Label) -> list[Floats]:
    """The 0/1 target of each head of ``label``, in head order."""
    targets = {
        "strong_better": outcomes.strong_better,
        "weak_better": outcomes.weak_better,
        "weak_ok": outcomes.weak_ok,
    }
    return [targets[head] for head in LABEL_HEADS[label]]


def _fit_head(x_rows: Design, y: Floats, prompts: list[str], seed: int) -> tuple[LinearHead, float]:
    """Select the penalty on a holdout of the training rows, then refit on all of them."""
    n = len(prompts)
    holdout = fold_of_rows(prompts, SELECTION_FOLDS, seed) == 0
    inner = np.flatnonzero(~holdout)
    outer = np.flatnonzero(holdout)
    fit_x, check_x = x_rows.take(inner), x_rows.take(outer)
    losses = []
    for multiple in L2_GRID:
        head = fit_logistic(fit_x, y[inner], multiple / len(inner))
        losses.append(log_loss(decision(check_x, head), y[outer]))
    l2 = L2_GRID[int(np.argmin(losses))] / n
    return fit_logistic(x_rows, y, l2), l2


def fit_classifier(
    features: Sequence[Features],
    outcomes: Outcomes,
    label: Label = DEFAULT_LABEL,
    max_features: int = DEFAULT_MAX_FEATURES,
    seed: int = 0,
) -> ComplexityClassifier:
    """An uncalibrated classifier fitted on all of ``outcomes`` (``features`` aligned by row)."""
    vocabulary = build_vocabulary(features, max_features)
    index = vocabulary_index(vocabulary)
    standardizer = Standardizer.fit(np.array([f.dense for f in features], dtype=np.float64))
    x = design(features, index, standardizer)
    heads, penalties = [], []
    for y in head_targets(outcomes, label):
        head, l2 = _fit_head(x, y, outcomes.prompts, seed)
        heads.append(head)
        penalties.append(l2)
    info = TrainingInfo({"l2": penalties, "vocabulary_size": len(vocabulary)})
    return ComplexityClassifier(label, vocabulary, heads, standardizer, None, info)


def cross_validated_need(
    outcomes: Outcomes,
    label: Label = DEFAULT_LABEL,
    folds: int = DEFAULT_FOLDS,
    seed: int = 0,
    max_features: int = DEFAULT_MAX_FEATURES,
    features: Sequence[Features] | None = None,
) -> Floats:
    """Out-of-fold ``need`` per row: k-fold by prompt, each fold scored by a model trained on
    the other folds only (vocabulary, standardisation and penalty choice included)."""
    rows_features = list(features) if features is not None else _extract_all(outcomes)
    fold = fold_of_rows(outcomes.prompts, folds, seed)
    need = np.zeros(len(outcomes))
    for k in range(folds):
        train = np.flatnonzero(fold != k)
        test = np.flatnonzero(fold == k)
        model = fit_classifier(
            [rows_features[i] for i in train],
            outcomes.subset(train),
            label,
            max_features,
            seed,
        )
        need[test] = model.need_many([rows_features[i] for i in test])
    return need


def fit_calibration(need: Floats, outcomes: Outcomes) -> Calibration:
    """Platt scaling of ``need`` to P(not strong-better) and the per-percent tables."""
    slope, intercept = _platt(need, 1.0 - outcomes.strong_better)
    if slope >= 0:
        raise ValueError(
            "the trained scores do not rank prompts that need the strong model higher; "
            "the data carries no usable signal for this label"
        )
    probabilities = 0.5 * (1.0 + np.tanh(0.5 * (slope * need + intercept)))
    zero = np.zeros(len(need))
    curve = metrics.sweep(need, outcomes.weak, outcomes.strong, zero, zero)
    quality = [
        float(metrics.recovered_at(curve, p / (TABLE_POINTS - 1))[0]) for p in range(TABLE_POINTS)
    ]
    return Calibration(slope, intercept, share_table(probabilities), tuple(quality))


def _platt(x: Floats, y: Floats, iterations: int = 50) -> tuple[float, float]:
    """Two-parameter logistic fit of ``y`` on ``x`` by Newton's method (tiny ridge for safety)."""
    scale = float(np.std(x)) or 1.0
    u = x / scale
    a, b = 0.0, 0.0
    for _ in range(iterations):
        p = 0.5 * (1.0 + np.tanh(0.5 * (a * u + b)))
        r = p - y
        w = p * (1.0 - p) + 1e-9
        g = np.array([r @ u + 1e-6 * a, r.sum()])
        h = np.array([[w @ (u * u) + 1e-6, w @ u], [w @ u, w.sum()]])
        step = np.linalg.solve(h, g)
        a, b = a - float(step[0]), b - float(step[1])
        if float(np.abs(step).max()) < 1e-10:
            break
    return a / scale, b


def train(
    outcomes: Outcomes,
    label: Label = DEFAULT_LABEL,
    folds: int = DEFAULT_FOLDS,
    seed: int = 0,
    max_features: int = DEFAULT_MAX_FEATURES,
    sources: Sequence[str] = (),
) -> ComplexityClassifier:
    """A calibrated classifier trained on all of ``outcomes``, with its out-of-fold figures.

    Raises ``ValueError`` when there are too few distinct prompts for ``folds`` or the data
    carries no signal (see :func:`fit_calibration`).
    """
    features = _extract_all(outcomes)
    need = cross_validated_need(outcomes, label, folds, seed, max_features, features)
    calibration = fit_calibration(need, outcomes)
    model = fit_classifier(features, outcomes, label, max_features, seed)
    zero = np.zeros(len(need))
    curve = metrics.sweep(need, outcomes.weak, outcomes.strong, zero, zero)
    details: dict[str, Any] = {
        "sources": list(sources),
        "weak_model": outcomes.weak_name,
        "strong_model": outcomes.strong_name,
        "outcome_kind": outcomes.kind,
        "prompts": len(outcomes),
        "distinct_prompts": len(set(outcomes.prompts)),
        "folds": folds,
        "seed": seed,
        "max_features": max_features,
        **model.training.details,
        "out_of_fold": {
            "apgr": _finite(metrics.apgr(curve)[0]),
            "cpt50": _finite(metrics.cpt(curve, 0.5)[0]),
            "cpt80": _finite(metrics.cpt(curve, 0.8)[0]),
        },
    }
    fingerprints = frozenset(prompt_fingerprint(p) for p in outcomes.prompts)
    return ComplexityClassifier(
        label,
        model.vocabulary,
        model.heads,
        model.standardizer,
        calibration,
        TrainingInfo(details, fingerprints),
    )


def _extract_all(outcomes: Outcomes) -> list[Features]:
    return [extract(prompt) for prompt in outcomes.prompts]


def _finite(value: float) -> float | None:
    return round(float(value), 6) if math.isfinite(value) else None
