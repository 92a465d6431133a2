"""The complexity classifier: is the cheap tier good enough for this request?

A model file (JSON, shipped as ``pointsman/data/router_model.json``, retrainable with
``pointsman route train``) holds one or two logistic heads over the features of
:mod:`pointsman.routing.features`, and a :class:`~pointsman.routing.calibration.Calibration`.

Label ``gain`` (the default) has two heads, P(strong strictly better) and P(weak strictly better);
a prompt's ``need`` for the strong tier is their difference, i.e. the expected quality the strong
model adds. Labels ``strong-better`` and ``weak-ok`` have one head each (``need`` is its logit, or
minus it). :meth:`ComplexityClassifier.score` turns ``need`` into P(cheap tier good enough).

Routing rule (:meth:`ComplexityClassifier.decide`): cheap tier when the score is at or above the
threshold, strong tier below it, and strong tier whenever the classifier is unsure: no text to
judge, non-text parts it cannot read, or a prompt whose n-grams it mostly never saw in training.

Scoring is pure CPU work, no I/O, and takes well under a millisecond for ordinary prompts (see
``benchmarks/bench_classifier.py``). Instances are immutable after load and safe to share across
threads and tasks.
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from pointsman.routing.calibration import Calibration
from pointsman.routing.features import (
    DENSE_NAMES,
    FEATURE_VERSION,
    Features,
    extract,
    prompt_text,
)
from pointsman.routing.logistic import (
    LinearHead,
    Standardizer,
    decision,
    design,
    sigmoid,
    vocabulary_index,
)

Floats = npt.NDArray[np.float64]
Label = Literal["gain", "strong-better", "weak-ok"]
LABEL_HEADS: dict[str, tuple[str, ...]] = {
    "gain": ("strong_better", "weak_better"),
    "strong-better": ("strong_better",),
    "weak-ok": ("weak_ok",),
}
FORMAT = "pointsman-complexity-classifier"
FORMAT_VERSION = 1
DEFAULT_MIN_COVERAGE = 0.25
Prompt = str | Sequence[Any]


class ModelFileError(ValueError):
    """A model file that cannot be used; the message names the problem."""


def prompt_fingerprint(prompt: str) -> int:
    """A stable 32-bit fingerprint of a prompt's exact text (to spot training prompts)."""
    return int.from_bytes(hashlib.blake2b(prompt.encode(), digest_size=4).digest(), "big")


@dataclass(slots=True, frozen=True)
class Decision:
    """Where one request goes and why. ``score`` is None when the prompt was not scored."""

    tier: Literal["cheap", "strong"]
    score: float | None
    reason: Literal["score", "no-text", "non-text-content", "unfamiliar"]
    coverage: float


@dataclass(slots=True, frozen=True)
class TrainingInfo:
    """What the model was trained on; ``fingerprints`` are the training prompts' fingerprints."""

    details: dict[str, Any] = field(default_factory=dict)
    fingerprints: frozenset[int] = frozenset()


class ComplexityClassifier:
    """Scores requests; see the module docstring for the rule and guarantees."""

    def __init__(
        self,
        label: Label,
        vocabulary: Sequence[str],
        heads: Sequence[LinearHead],
        standardizer: Standardizer,
        calibration: Calibration | None = None,
        training: TrainingInfo | None = None,
    ) -> None:
        if len(heads) != len(LABEL_HEADS[label]):
            raise ModelFileError(f"label {label!r} needs {len(LABEL_HEADS[label])} head(s)")
        self.label: Label = label
        self.vocabulary = list(vocabulary)
        self.heads = list(heads)
        self.standardizer = standardizer
        self.calibration = calibration
        self.training = training or TrainingInfo()
        self._index = vocabulary_index(self.vocabulary)
        self._sparse = np.stack([h.sparse for h in heads], axis=1)  # (vocabulary, heads)
        self._dense = np.stack([h.dense for h in heads], axis=1)  # (dense features, heads)
        self._bias = np.array([h.bias for h in heads])

    # -- loading and saving -------------------------------------------------------------------

    @classmethod
    def load(cls, path: str | Path | None = None) -> ComplexityClassifier:
        """Load a model file; ``None`` loads the model shipped with the package.

        Raises :class:`ModelFileError` for a file of another format or feature version, and
        ``OSError`` when the file cannot be read.
        """
        if path is None:
            text = resources.files("pointsman").joinpath("data/router_model.json").read_text()
        else:
            text = Path(path).read_text(encoding="utf-8")
        try:
            data = json.loads(text)
        except json.JSONDecodeError as error:
            raise ModelFileError(f"model file is not JSON: {error}") from None
        return cls.from_dict(data)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ComplexityClassifier:
        if data.get("format") != FORMAT or data.get("version") != FORMAT_VERSION:
            raise ModelFileError(f"not a {FORMAT} v{FORMAT_VERSION} model file")
        if data.get("feature_version") != FEATURE_VERSION or data.get("dense_names") != list(
            DENSE_NAMES
        ):
            raise ModelFileError("model was trained on other features; retrain it")
        label = data["label"]
        if label not in LABEL_HEADS:
            raise ModelFileError(f"unknown label {label!r}")
        heads = [
            LinearHead(np.asarray(sparse, dtype=np.float64), np.asarray(dense), float(bias))
            for sparse, dense, bias in zip(
                data["sparse_weights"], data["dense_weights"], data["bias"], strict=True
            )
        ]
        calibration = data.get("calibration")
        training = dict(data.get("training", {}))
        packed = base64.b64decode(training.pop("prompt_fingerprints", ""))
        fingerprints = frozenset(np.frombuffer(packed, dtype=">u4").tolist())
        return cls(
            label,
            data["vocabulary"],
            heads,
            Standardizer(np.asarray(data["dense_mean"]), np.asarray(data["dense_scale"])),
            Calibration.from_dict(calibration) if calibration else None,
            TrainingInfo(training, fingerprints),
        )

    def to_dict(self) -> dict[str, Any]:
        packed = np.array(sorted(self.training.fingerprints), dtype=">u4").tobytes()
        return {
            "format": FORMAT,
            "version": FORMAT_VERSION,
            "feature_version": FEATURE_VERSION,
            "label": self.label,
            "heads": list(LABEL_HEADS[self.label]),
            "dense_names": list(DENSE_NAMES),
            "dense_mean": _rounded(self.standardizer.mean, 6),
            "dense_scale": _rounded(self.standardizer.scale, 6),
            "dense_weights": [_rounded(h.dense, 6) for h in self.heads],
            "bias": [round(h.bias, 6) for h in self.heads],
            "calibration": self.calibration.to_dict() if self.calibration else None,
            "training": {
                **self.training.details,
                "prompt_fingerprints": base64.b64encode(packed).decode(),
            },
            "vocabulary": self.vocabulary,
            "sparse_weights": [_rounded(h.sparse, 4) for h in self.heads],
        }

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.to_dict(), separators=(",", ":")) + "\n")

    # -- scoring ------------------------------------------------------------------------------

    def need_and_coverage(self, features: Features) -> tuple[float, float]:
        """Raw ``need`` for the strong tier, and the share of the prompt's keys the model knows."""
        index = self._index
        known = [i for i in map(index.get, features.keys) if i is not None]
        dense = self.standardizer.apply(np.asarray(features.dense))
        z = dense @ self._dense + self._bias
        if known:
            z = z + self._sparse[known].sum(axis=0) / math.sqrt(len(known))
        coverage = len(known) / len(features.keys) if features.keys else 0.0
        return self._combine(z), coverage

    def need_many(self, features: Sequence[Features]) -> Floats:
        """``need`` for many prompts at once (same values as :meth:`need_and_coverage`)."""
        x = design(features, self._index, self.standardizer)
        z = np.stack([decision(x, head) for head in self.heads], axis=-1)
        result: Floats = np.array([self._combine(row) for row in z]) if len(z) else np.zeros(0)
        return result

    def _combine(self, z: Floats) -> float:
        if self.label == "gain":
            return float(sigmoid(z[0]) - sigmoid(z[1]))
        if self.label == "strong-better":
            return float(z[0])
        return -float(z[0])

    def score(self, prompt: Prompt) -> float:
        """P(cheap tier good enough) for a text or an OpenAI-style message list.

        For a message list the last user message is judged (see ``features.prompt_text``).
        Raises ``RuntimeError`` for a model without calibration.
        """
        need, _ = self.need_and_coverage(extract(prompt_text(prompt).text))
        return self._calibrated().probability(need)

    def decide(
        self, prompt: Prompt, threshold: float, min_coverage: float = DEFAULT_MIN_COVERAGE
    ) -> Decision:
        """Cheap tier if the score is >= ``threshold``; strong tier below it or when unsure.

        Unsure means: no text in the judged message (``no-text``), non-text parts in it
        (``non-text-content``), or under ``min_coverage`` of its n-grams known (``unfamiliar``).
        """
        text = prompt_text(prompt)
        if not text.text.strip():
            return Decision("strong", None, "no-text", 0.0)
        need, coverage = self.need_and_coverage(extract(text.text))
        score = self._calibrated().probability(need)
        if text.has_non_text:
            return Decision("strong", score, "non-text-content", coverage)
        if coverage < min_coverage:
            return Decision("strong", score, "unfamiliar", coverage)
        return Decision("cheap" if score >= threshold else "strong", score, "score", coverage)

    def threshold_for_strong_share(self, share: float) -> float:
        """Score threshold sending ``share`` (0..1) of calibration traffic to the strong tier."""
        return self._calibrated().threshold_for_strong_share(share)

    def threshold_for_quality(self, target: float) -> float:
        """Score threshold recovering ``target`` (0..1) of the weak-to-strong quality gap."""
        return self._calibrated().threshold_for_quality(target)

    def calibrated_to(self, prompts: Sequence[Prompt]) -> ComplexityClassifier:
        """A copy whose strong-share table follows the score distribution of ``prompts``."""
        scores = [self.score(p) for p in prompts]
        return ComplexityClassifier(
            self.label,
            self.vocabulary,
            self.heads,
            self.standardizer,
            self._calibrated().with_traffic(scores),
            self.training,
        )

    def seen_in_training(self, prompt: str) -> bool:
        """Whether this exact prompt text was among the training prompts (up to 2^-32 clashes)."""
        return prompt_fingerprint(prompt) in self.training.fingerprints

    def _calibrated(self) -> Calibration:
        if self.calibration is None:
            raise RuntimeError("this model has no calibration; train it with `pointsman route`")
        return self.calibration


def _rounded(values: Floats, digits: int) -> list[float]:
    return [float(f"{v:.{digits}g}") for v in values.tolist()]
