"""How often the semantic cache would serve a wrong answer: the QQP evaluation.

Protocol (the data's own): for each pair, store ``text_a`` and query with ``text_b``; at a
threshold, a pair whose similarity reaches it is a *hit*. A hit on a duplicate is right, a hit
on a non-duplicate (QQP's non-duplicates are hard negatives: same topic, other question) is a
false hit. Per threshold: precision, recall (hits among duplicates), F1, the false-hit rate
among non-duplicates, and the false-hit rate on *unrelated* pairs (each ``text_b`` against the
``text_a`` of another pair drawn at random): the rate at which unrelated traffic would be
served someone else's answer.

The semantic curve is reported twice: cosine alone, and cosine followed by the verifier
(:func:`~pointsman.cache.verify.verify`, what the cache stage does before serving a semantic
hit), from which the threshold is recommended. Baselines in the same run: exact match (case
and surrounding spaces ignored) and word overlap (Jaccard of lower-cased word sets) over their
own thresholds.

Split (:func:`split_pairs`): QQP questions recur across pairs, so the pairs are grouped by
connected question texts (two pairs sharing a text are in one group) and each group goes to
the ``tuning`` or the ``heldout`` half by a hash of its smallest text. No question appears in
both halves; the halves are about equal (40,762 and 40,092 pairs). The verifier and the
shipped threshold were designed on the tuning half only.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import random
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from pointsman.cache.settings import DEFAULT_THRESHOLD, EVAL_DATA
from pointsman.cache.verify import Mismatch, verify

__all__ = [
    "Pair",
    "Point",
    "Report",
    "evaluate",
    "load_pairs",
    "sample_pairs",
    "split_pairs",
    "sweep",
]

DEFAULT_DATA = EVAL_DATA
TARGET_PRECISION = 0.95
TARGET_UNRELATED = 0.001
_WORD = re.compile(r"[\w']+")
Embed = Callable[[Sequence[str]], npt.NDArray[np.float32]]
Verifier = Callable[[str, str], Mismatch | None]


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
    return sample_pairs(pairs, limit, seed)


def sample_pairs(pairs: list[Pair], limit: int | None, seed: int = 7) -> list[Pair]:
    """A seeded sample of ``limit`` pairs (all of them when ``limit`` is None or larger)."""
    if limit is not None and limit < len(pairs):
        return random.Random(seed).sample(pairs, limit)
    return pairs


def split_pairs(pairs: list[Pair]) -> dict[str, list[Pair]]:
    """``{"all", "tuning", "heldout"}``: the halves share no question text (module docstring).

    Deterministic: a group's half is the low bit of the blake2b digest of its smallest text,
    so the split does not depend on the order of the file or on a seed."""
    parent: dict[str, str] = {}

    def root(text: str) -> str:
        while parent.setdefault(text, text) != text:
            parent[text] = parent[parent[text]]
            text = parent[text]
        return text

    for pair in pairs:
        a, b = root(pair.text_a), root(pair.text_b)
        if a != b:
            parent[a] = b
    smallest: dict[str, str] = {}
    for text in parent:
        group = root(text)
        if group not in smallest or text < smallest[group]:
            smallest[group] = text
    halves: dict[str, list[Pair]] = {"all": pairs, "tuning": [], "heldout": []}
    for pair in pairs:
        digest = hashlib.blake2b(smallest[root(pair.text_a)].encode(), digest_size=8).digest()
        halves["heldout" if digest[0] & 1 else "tuning"].append(pair)
    return halves


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
    """``semantic``: cosine alone; ``verified``: cosine then the verifier, as the cache serves;
    ``recommended``: from ``verified``; ``shipped``: ``verified`` at the shipped default
    threshold; ``verifier_us``: mean cost of one verifier call in this run, microseconds."""

    embedder: str
    split: str
    pairs: int
    duplicates: int
    exact: Point
    word_overlap: list[Point]
    semantic: list[Point]
    verified: list[Point]
    recommended: Point | None
    shipped: Point | None
    verifier_us: float
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


def _verified(
    stored: Sequence[str],
    asked: Sequence[str],
    similarity: npt.NDArray[np.floating],
    floor: float,
    check: Verifier,
) -> tuple[npt.NDArray[np.floating], int, float]:
    """``similarity`` with the pairs the verifier refuses set to -1 (only pairs at or above
    ``floor`` are checked: below it nothing is served anyway), the number of checks and the
    seconds they took."""
    out = np.array(similarity, dtype=float)
    rows = np.flatnonzero(out >= floor - 1e-9)
    started = time.perf_counter()
    for i in rows.tolist():
        if check(stored[i], asked[i]) is not None:
            out[i] = -1.0
    return out, len(rows), time.perf_counter() - started


def evaluate(
    pairs: list[Pair],
    embed: Embed,
    embedder: str,
    thresholds: Sequence[float],
    seed: int = 11,
    split: str = "all",
    check: Verifier = verify,
) -> Report:
    """Run the protocol (module docstring) with ``embed``, the verifier and both baselines."""
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
    floor = min(thresholds)
    stored = [p.text_a for p in pairs]
    asked = [p.text_b for p in pairs]
    checked, count, seconds = _verified(stored, asked, similarity, floor, check)
    stored_other = [pairs[other[i]].text_a for i in range(len(pairs))]
    checked_unrelated, more, extra = _verified(stored_other, asked, unrelated, floor, check)
    verified = sweep(checked, checked_unrelated, duplicate, thresholds)
    shipped = [p for p in verified if abs(p.threshold - DEFAULT_THRESHOLD) < 1e-9]
    return Report(
        embedder=embedder,
        split=split,
        pairs=len(pairs),
        duplicates=int(duplicate.sum()),
        exact=sweep(exact, exact_unrelated, duplicate, [1.0])[0],
        word_overlap=sweep(words, words_unrelated, duplicate, overlap_thresholds),
        semantic=semantic,
        verified=verified,
        recommended=recommend(verified),
        shipped=shipped[0] if shipped else None,
        verifier_us=round((seconds + extra) / max(count + more, 1) * 1e6, 1),
    )
