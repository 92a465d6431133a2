"""How often the semantic cache would serve a wrong answer: the QQP evaluation.

Protocol (the data's own): for each pair, store ``text_a`` and query with ``text_b``; at a
threshold, a pair whose similarity reaches it is a *hit*. A hit on a duplicate is right, a hit
on a non-duplicate (QQP's non-duplicates are hard negatives: same topic, other question) is a
false hit. Per threshold: precision, recall (hits among duplicates), F1, the false-hit rate
among non-duplicates, and the false-hit rate on *unrelated* pairs (each ``text_b`` against the
``text_a`` of another pair drawn at random): the rate at which unrelated traffic would be
served someone else's answer.

Baselines in the same run: exact match (case and surrounding spaces ignored) and word
overlap (Jaccard of lower-cased word sets) over their own thresholds.
"""

from __future__ import annotations

import gzip
import json
import random
import re
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from pointsman.cache.settings import EVAL_DATA

__all__ = ["Pair", "Point", "Report", "evaluate", "load_pairs", "sweep"]

DEFAULT_DATA = EVAL_DATA
TARGET_PRECISION = 0.95
TARGET_UNRELATED = 0.001
_WORD = re.compile(r"[\w']+")
Embed = Callable[[Sequence[str]], npt.NDArray[np.float32]]


@dataclass(frozen=True, slots=True)
class Pair:
    text_a: str
    text_b: str
    duplicate: bool


def load_pairs(path: Path, limit: int | None = None, seed: int = 7) -> list[Pair]:
    """Pairs from a JSON-lines file (``.gz`` or plain); ``limit`` draws a seeded sample."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as lines:
        pairs = [
            Pair(str(row["text_a"]), str(row["text_b"]), bool(row["duplicate"]))
            for row in map(json.loads, lines)
            if row
        ]
    if limit is not None and limit < len(pairs):
        pairs = random.Random(seed).sample(pairs, limit)
    return pairs


@dataclass(frozen=True, slots=True)
class Point:
    """The outcome at one threshold."""

    threshold: float
    hits: int
    precision: float
    recall: float
    f1: float
    false_hit_rate: float  # false hits / non-duplicates
    unrelated_false_hit_rate: float  # hits / unrelated pairs


def sweep(
    similarity: npt.NDArray[np.floating],
    unrelated: npt.NDArray[np.floating],
    duplicate: npt.NDArray[np.bool_],
    thresholds: Sequence[float],
) -> list[Point]:
    """One :class:`Point` per threshold (a pair is a hit when similarity >= threshold)."""
    points = []
    positives = max(int(duplicate.sum()), 1)
    negatives = max(int((~duplicate).sum()), 1)
    for threshold in thresholds:
        hit = similarity >= threshold - 1e-9
        right = int((hit & duplicate).sum())
        wrong = int((hit & ~duplicate).sum())
        precision = right / (right + wrong) if right + wrong else 1.0
        recall = right / positives
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        points.append(
            Point(
                round(float(threshold), 4),
                right + wrong,
                precision,
                recall,
                f1,
                wrong / negatives,
                float((unrelated >= threshold - 1e-9).mean()) if len(unrelated) else 0.0,
            )
        )
    return points


def _normal(text: str) -> str:
    return text.strip().lower()


def _jaccard(a: str, b: str) -> float:
    left, right = set(_WORD.findall(a.lower())), set(_WORD.findall(b.lower()))
    return len(left & right) / len(left | right) if left | right else 1.0


@dataclass
class Report:
    embedder: str
    pairs: int
    duplicates: int
    exact: Point
    word_overlap: list[Point]
    semantic: list[Point]
    recommended: Point | None
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def recommend(points: list[Point]) -> Point | None:
    """The lowest threshold meeting both targets (precision and unrelated false hits)."""
    good = [
        p
        for p in points
        if p.precision >= TARGET_PRECISION and p.unrelated_false_hit_rate <= TARGET_UNRELATED
    ]
    return min(good, key=lambda p: p.threshold) if good else None


def evaluate(
    pairs: list[Pair],
    embed: Embed,
    embedder: str,
    thresholds: Sequence[float],
    seed: int = 11,
) -> Report:
    """Run the protocol (module docstring) with ``embed`` and both baselines."""
    duplicate = np.array([p.duplicate for p in pairs], dtype=bool)
    order = list(range(len(pairs)))
    rng = random.Random(seed)
    rng.shuffle(order)
    other = {order[i]: order[(i + 1) % len(order)] for i in range(len(order))}
    texts = sorted({t for p in pairs for t in (p.text_a, p.text_b)})
    row = {text: i for i, text in enumerate(texts)}
    vectors = embed(texts)
    a = vectors[[row[p.text_a] for p in pairs]]
    b = vectors[[row[p.text_b] for p in pairs]]
    a_other = a[[other[i] for i in range(len(pairs))]]
    similarity = (a * b).sum(axis=1)
    unrelated = (a_other * b).sum(axis=1)
    exact = np.array([_normal(p.text_a) == _normal(p.text_b) for p in pairs], dtype=float)
    exact_unrelated = np.array(
        [_normal(pairs[other[i]].text_a) == _normal(p.text_b) for i, p in enumerate(pairs)],
        dtype=float,
    )
    words = np.array([_jaccard(p.text_a, p.text_b) for p in pairs])
    words_unrelated = np.array(
        [_jaccard(pairs[other[i]].text_a, p.text_b) for i, p in enumerate(pairs)]
    )
    overlap_thresholds = [round(0.5 + 0.05 * i, 2) for i in range(11)]
    semantic = sweep(similarity, unrelated, duplicate, thresholds)
    return Report(
        embedder=embedder,
        pairs=len(pairs),
        duplicates=int(duplicate.sum()),
        exact=sweep(exact, exact_unrelated, duplicate, [1.0])[0],
        word_overlap=sweep(words, words_unrelated, duplicate, overlap_thresholds),
        semantic=semantic,
        recommended=recommend(semantic),
    )
