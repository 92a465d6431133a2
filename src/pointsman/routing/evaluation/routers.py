"""The routers ``pointsman route eval`` compares, each a small class with one scoring method.

``need(outcomes)`` returns one score per prompt; higher means "send to the strong model". Only the
oracle reads the outcomes of the prompt it scores; the k-fold router reads the outcomes of the
*other* folds (it trains on them) and the rest read prompts only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np
import numpy.typing as npt

from pointsman.routing.classifier import ComplexityClassifier, Label
from pointsman.routing.features import extract
from pointsman.routing.outcomes import Outcomes
from pointsman.routing.training import (
    DEFAULT_FOLDS,
    DEFAULT_LABEL,
    DEFAULT_MAX_FEATURES,
    cross_validated_need,
)

Floats = npt.NDArray[np.float64]


class Router(Protocol):
    name: str
    description: str

    def need(self, outcomes: Outcomes) -> Floats: ...


@dataclass(slots=True)
class RandomRouter:
    """Uniform random scores (seeded): the no-information baseline, APGR 0.5 in expectation."""

    seed: int = 0
    name: str = "random"
    description: str = "uniform random score (seeded)"

    def need(self, outcomes: Outcomes) -> Floats:
        return np.random.default_rng(self.seed).random(len(outcomes))


@dataclass(slots=True)
class LengthRouter:
    """Longer prompts go to the strong model first (characters of the routed prompt text)."""

    name: str = "prompt-length"
    description: str = "prompt length in characters"

    def need(self, outcomes: Outcomes) -> Floats:
        return np.array([len(p) for p in outcomes.prompts], dtype=np.float64)


@dataclass(slots=True)
class OracleRouter:
    """Knows both outcomes: routes up exactly where the strong model does better (upper bound)."""

    name: str = "oracle"
    description: str = "reads the outcomes: strong minus weak"

    def need(self, outcomes: Outcomes) -> Floats:
        result: Floats = outcomes.strong - outcomes.weak
        return result


@dataclass(slots=True)
class ClassifierRouter:
    """A trained classifier exactly as loaded (no fitting on the evaluated data)."""

    classifier: ComplexityClassifier
    name: str = "shipped-classifier"
    description: str = "the classifier as shipped"

    def need(self, outcomes: Outcomes) -> Floats:
        return self.classifier.need_many([extract(p) for p in outcomes.prompts])

    def seen_share(self, outcomes: Outcomes) -> float:
        """Share of the evaluated prompts this classifier was trained on (in-sample share)."""
        seen = sum(self.classifier.seen_in_training(p) for p in outcomes.prompts)
        return seen / len(outcomes) if len(outcomes) else 0.0


@dataclass(slots=True)
class KFoldRouter:
    """The classifier retrained k-fold by prompt on the evaluated data (out-of-fold scores)."""

    label: Label = DEFAULT_LABEL
    folds: int = DEFAULT_FOLDS
    seed: int = 0
    max_features: int = DEFAULT_MAX_FEATURES
    name: str = ""
    description: str = ""

    def __post_init__(self) -> None:
        self.name = self.name or f"retrained-{self.folds}fold" + (
            "" if self.label == DEFAULT_LABEL else f"-{self.label}"
        )
        self.description = self.description or (
            f"label {self.label}, {self.folds}-fold by prompt, out-of-fold scores"
        )

    def need(self, outcomes: Outcomes) -> Floats:
        return cross_validated_need(outcomes, self.label, self.folds, self.seed, self.max_features)
