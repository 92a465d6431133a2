"""Per-prompt outcomes of a weak (cheap) and a strong model, and the labels derived from them.

An outcome is either binary correctness (1.0 / 0.0) or a score (a judge's 1-10 grade, say); both
models of one table share the kind. The labels the classifier learns:

* ``strong_better``: the strong model's outcome is strictly better (binary: strong right, weak
  wrong). Routing these prompts up is what recovers quality.
* ``weak_better``: the weak model's outcome is strictly better (binary: weak right, strong wrong).
  Routing these up *loses* quality, so a good router must learn them too.
* ``weak_ok``: the weak model is good enough: binary outcomes, weak right; scores, weak ≥ strong.

"The cheap tier is good enough" (what :meth:`ComplexityClassifier.score` estimates) means *not*
``strong_better``: the strong model would not have done better.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import numpy.typing as npt

from pointsman.core.tokens import estimate_text_tokens

Floats = npt.NDArray[np.float64]
OutcomeKind = Literal["binary", "score"]


@dataclass(slots=True)
class Outcomes:
    """One table of prompts with both models' outcomes, aligned by row.

    ``weak_tokens``/``strong_tokens`` are the tokens each model would be billed for on each
    prompt (prompt, plus the recorded response where the data has one); cost figures use them.
    """

    name: str
    prompts: list[str]
    weak: Floats
    strong: Floats
    kind: OutcomeKind
    weak_name: str = "weak"
    strong_name: str = "strong"
    weak_tokens: Floats = field(default_factory=lambda: np.zeros(0))
    strong_tokens: Floats = field(default_factory=lambda: np.zeros(0))

    def __post_init__(self) -> None:
        n = len(self.prompts)
        if self.weak.shape != (n,) or self.strong.shape != (n,):
            raise ValueError("weak and strong outcomes must have one value per prompt")
        if self.weak_tokens.size == 0:
            self.weak_tokens = prompt_tokens(self.prompts)
        if self.strong_tokens.size == 0:
            self.strong_tokens = prompt_tokens(self.prompts)

    def __len__(self) -> int:
        return len(self.prompts)

    @property
    def strong_better(self) -> Floats:
        return (self.strong > self.weak).astype(np.float64)

    @property
    def weak_better(self) -> Floats:
        return (self.weak > self.strong).astype(np.float64)

    @property
    def weak_ok(self) -> Floats:
        if self.kind == "binary":
            return (self.weak > 0.5).astype(np.float64)
        return (self.weak >= self.strong).astype(np.float64)

    def subset(self, rows: npt.NDArray[np.intp]) -> Outcomes:
        """The rows ``rows`` of this table, in that order."""
        return Outcomes(
            self.name,
            [self.prompts[i] for i in rows],
            self.weak[rows],
            self.strong[rows],
            self.kind,
            self.weak_name,
            self.strong_name,
            self.weak_tokens[rows],
            self.strong_tokens[rows],
        )


def prompt_tokens(prompts: list[str]) -> Floats:
    """Estimated prompt tokens per prompt (Pointsman's four-characters-per-token rule)."""
    return np.array([estimate_text_tokens(p) for p in prompts], dtype=np.float64)


def concat(tables: list[Outcomes], name: str | None = None) -> Outcomes:
    """Several tables as one (they must share the outcome kind)."""
    kinds = {t.kind for t in tables}
    if len(kinds) != 1:
        raise ValueError("cannot combine binary outcomes with scores in one table")
    return Outcomes(
        name or "+".join(t.name for t in tables),
        [p for t in tables for p in t.prompts],
        np.concatenate([t.weak for t in tables]),
        np.concatenate([t.strong for t in tables]),
        tables[0].kind,
        tables[0].weak_name,
        tables[0].strong_name,
        np.concatenate([t.weak_tokens for t in tables]),
        np.concatenate([t.strong_tokens for t in tables]),
    )


def prompt_groups(prompts: list[str]) -> npt.NDArray[np.intp]:
    """A group id per row: identical prompts share one id (for splitting folds by prompt)."""
    ids: dict[str, int] = {}
    return np.array([ids.setdefault(p, len(ids)) for p in prompts], dtype=np.intp)


def fold_of_rows(prompts: list[str], folds: int, seed: int) -> npt.NDArray[np.intp]:
    """Fold number (0..folds-1) per row, assigned per distinct prompt at random.

    Rows with identical prompts always share a fold, so no prompt is ever on both sides of a
    train/evaluation split. Folds differ in size by at most one distinct prompt.
    """
    groups = prompt_groups(prompts)
    n_groups = int(groups.max()) + 1 if len(groups) else 0
    if folds < 2 or folds > n_groups:
        raise ValueError(f"need 2 <= folds <= {n_groups} distinct prompts, got folds={folds}")
    order = np.random.default_rng(seed).permutation(n_groups)
    fold_of_group = np.empty(n_groups, dtype=np.intp)
    fold_of_group[order] = np.arange(n_groups) % folds
    return fold_of_group[groups]
