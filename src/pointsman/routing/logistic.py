"""L2-regularised logistic regression over sparse n-gram keys and dense features, in plain numpy.

Training only; per-request scoring lives in :mod:`pointsman.routing.classifier`, which applies the
same design: the sparse part of a row is binary presence of each vocabulary key scaled by
``1/sqrt(number of keys present)`` (so long prompts do not dominate), the dense part is
standardised with the training mean and scale.

Fitting minimises ``mean log-loss + l2/2 * |w|^2`` (bias unpenalised) with full-batch Adam for a
fixed number of steps: deterministic, dependency-free and fast enough for tens of thousands of
prompts (a few seconds per fit).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from pointsman.routing.features import Features, Key, key_from_text, key_text

Floats = npt.NDArray[np.float64]
Ints = npt.NDArray[np.intp]

STEPS = 300
LEARNING_RATE = 0.1
CLIP = 5.0


def build_vocabulary(features: Sequence[Features], max_features: int, min_df: int = 2) -> list[str]:
    """The keys seen in at least ``min_df`` rows, the ``max_features`` most frequent, as sorted
    key texts (:func:`~pointsman.routing.features.key_text`).

    Ties in frequency break by key text, so the result is deterministic.
    """
    df: Counter[Key] = Counter()
    for row in features:
        df.update(row.keys)
    frequent = [(count, key_text(key)) for key, count in df.items() if count >= min_df]
    frequent.sort(key=lambda item: (-item[0], item[1]))
    return sorted(text for _, text in frequent[:max_features])


def vocabulary_index(vocabulary: Sequence[str]) -> dict[Key, int]:
    """Key → column for a vocabulary of key texts."""
    return {key_from_text(text): i for i, text in enumerate(vocabulary)}


@dataclass(slots=True, frozen=True)
class Standardizer:
    """Centre and scale dense features; values beyond ``CLIP`` scales are clipped, so a prompt
    far outside the training range cannot dominate the score."""

    mean: Floats
    scale: Floats

    @classmethod
    def fit(cls, dense: Floats) -> Standardizer:
        scale = dense.std(axis=0)
        return cls(dense.mean(axis=0), np.where(scale > 1e-9, scale, 1.0))

    def apply(self, dense: Floats) -> Floats:
        result: Floats = np.clip((dense - self.mean) / self.scale, -CLIP, CLIP)
        return result


@dataclass(slots=True, frozen=True)
class Design:
    """Sparse entries as coordinates: ``values[k]`` sits at row ``rows[k]``, column ``cols[k]``."""

    rows: Ints
    cols: Ints
    values: Floats
    dense: Floats
    n_sparse: int

    @property
    def n_rows(self) -> int:
        return int(self.dense.shape[0])

    def take(self, rows: Ints) -> Design:
        """The rows ``rows`` (sorted ascending), renumbered from zero."""
        keep = np.isin(self.rows, rows)
        renumber = np.full(self.n_rows, -1, dtype=np.intp)
        renumber[rows] = np.arange(len(rows))
        return Design(
            renumber[self.rows[keep]],
            self.cols[keep],
            self.values[keep],
            self.dense[rows],
            self.n_sparse,
        )


def design(
    features: Sequence[Features], index: Mapping[Key, int], standardizer: Standardizer
) -> Design:
    """The design matrix of ``features`` over the vocabulary ``index``."""
    rows: list[int] = []
    cols: list[int] = []
    values: list[float] = []
    for number, row in enumerate(features):
        present = [index[key] for key in row.keys if key in index]
        if present:
            cols.extend(present)
            rows.extend([number] * len(present))
            values.extend([1.0 / len(present) ** 0.5] * len(present))
    dense = np.array([row.dense for row in features], dtype=np.float64).reshape(len(features), -1)
    return Design(
        np.array(rows, dtype=np.intp),
        np.array(cols, dtype=np.intp),
        np.array(values, dtype=np.float64),
        standardizer.apply(dense),
        len(index),
    )


@dataclass(slots=True, frozen=True)
class LinearHead:
    """Weights of one logistic model: ``z = sparse·x_sparse + dense·x_dense + bias``."""

    sparse: Floats
    dense: Floats
    bias: float


def decision(x: Design, head: LinearHead) -> Floats:
    """The logit ``z`` of every row."""
    sparse = np.bincount(x.rows, weights=x.values * head.sparse[x.cols], minlength=x.n_rows)
    result: Floats = sparse + x.dense @ head.dense + head.bias
    return result


def sigmoid(z: Floats) -> Floats:
    result: Floats = 0.5 * (1.0 + np.tanh(0.5 * z))
    return result


def log_loss(z: Floats, y: Floats) -> float:
    """Mean logistic loss of logits ``z`` against labels ``y`` in [0, 1]."""
    return float(np.mean(np.logaddexp(0.0, z) - y * z))


class _Products:
    """Segment-sum plans for ``X @ w`` and ``X.T @ r`` over one design (about twice as fast as
    ``np.bincount`` with weights on large designs)."""

    def __init__(self, x: Design) -> None:
        self.x = x
        self.row_ids, self.row_starts = _segments(x.rows)
        by_col = np.argsort(x.cols, kind="stable")
        self.col_rows = x.rows[by_col]
        self.col_values = x.values[by_col]
        self.col_ids, self.col_starts = _segments(x.cols[by_col])

    def times(self, sparse: Floats) -> Floats:
        out = np.zeros(self.x.n_rows)
        if len(self.row_ids):
            out[self.row_ids] = np.add.reduceat(
                self.x.values * sparse[self.x.cols], self.row_starts
            )
        return out

    def transpose_times(self, residual: Floats) -> Floats:
        out = np.zeros(self.x.n_sparse)
        if len(self.col_ids):
            out[self.col_ids] = np.add.reduceat(
                self.col_values * residual[self.col_rows], self.col_starts
            )
        return out


def _segments(sorted_keys: Ints) -> tuple[Ints, Ints]:
    """Distinct values of a sorted array and where each run starts."""
    if len(sorted_keys) == 0:
        return np.zeros(0, dtype=np.intp), np.zeros(0, dtype=np.intp)
    starts = np.flatnonzero(np.r_[True, sorted_keys[1:] != sorted_keys[:-1]])
    return sorted_keys[starts], starts


def fit_logistic(x: Design, y: Floats, l2: float, steps: int = STEPS) -> LinearHead:
    """Fit one head on labels ``y`` (0/1 or soft) with penalty ``l2`` (see module docstring)."""
    n, n_sparse = x.n_rows, x.n_sparse
    size = n_sparse + x.dense.shape[1] + 1
    products = _Products(x)
    w = np.zeros(size)
    penalty = np.full(size, l2)
    penalty[-1] = 0.0
    m = np.zeros(size)
    v = np.zeros(size)
    beta1, beta2 = 0.9, 0.999
    gradient = np.empty(size)
    for step in range(1, steps + 1):
        z = products.times(w[:n_sparse]) + x.dense @ w[n_sparse:-1] + w[-1]
        residual = (sigmoid(z) - y) / n
        gradient[:n_sparse] = products.transpose_times(residual)
        gradient[n_sparse:-1] = x.dense.T @ residual
        gradient[-1] = residual.sum()
        gradient += penalty * w
        m = beta1 * m + (1 - beta1) * gradient
        v = beta2 * v + (1 - beta2) * gradient * gradient
        m_hat = m / (1 - beta1**step)
        v_hat = v / (1 - beta2**step)
        w -= LEARNING_RATE * m_hat / (np.sqrt(v_hat) + 1e-8)
    return LinearHead(w[:n_sparse].copy(), w[n_sparse:-1].copy(), float(w[-1]))
