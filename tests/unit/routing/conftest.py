"""Synthetic outcome tables with a known signal, and a classifier trained on one."""

from __future__ import annotations

import numpy as np
import pytest

from pointsman.routing.classifier import ComplexityClassifier
from pointsman.routing.outcomes import Outcomes
from pointsman.routing.training import train

FILLER = tuple("the a of to and in is for on with as by at from this that which what how".split())  # noqa: SIM905
TOPICS = tuple("river garden music window market letter summer forest castle engine".split())  # noqa: SIM905


def synthetic(n: int = 400, seed: int = 0) -> Outcomes:
    """Prompts where "integral" marks a hard one (strong right, weak wrong) and "capital" an
    easy one where the strong model sometimes stumbles (weak right, strong wrong)."""
    rng = np.random.default_rng(seed)
    prompts, weak, strong = [], [], []
    for i in range(n):
        words = list(rng.choice(FILLER, 8)) + list(rng.choice(TOPICS, 3))
        kind = i % 4
        if kind == 0:
            words.append("integral")
        elif kind == 1:
            words.append("capital")
        rng.shuffle(words)
        prompts.append(" ".join(words) + f" question {i}?")
        if kind == 0:  # hard: the strong model helps
            w, s = float(rng.random() < 0.2), float(rng.random() < 0.9)
        elif kind == 1:  # the weak model is better here
            w, s = float(rng.random() < 0.9), float(rng.random() < 0.5)
        else:
            w = s = float(rng.random() < 0.8)
        weak.append(w)
        strong.append(s)
    return Outcomes("synthetic", prompts, np.array(weak), np.array(strong), "binary", "w", "s")


@pytest.fixture(scope="session")
def outcomes() -> Outcomes:
    return synthetic()


@pytest.fixture(scope="session")
def classifier(outcomes: Outcomes) -> ComplexityClassifier:
    return train(outcomes, folds=3, seed=1, max_features=2000, sources=["synthetic"])
