"""Labels from outcomes and folds that never split a prompt."""

from __future__ import annotations

import numpy as np
import pytest

from pointsman.routing.outcomes import OutcomeKind, Outcomes, concat, fold_of_rows, prompt_groups


def table(weak: list[float], strong: list[float], kind: OutcomeKind = "binary") -> Outcomes:
    prompts = [f"p{i}" for i in range(len(weak))]
    return Outcomes("t", prompts, np.array(weak), np.array(strong), kind)


def test_binary_labels() -> None:
    t = table([0, 1, 0, 1], [1, 1, 0, 0])
    assert t.strong_better.tolist() == [1, 0, 0, 0]
    assert t.weak_better.tolist() == [0, 0, 0, 1]
    assert t.weak_ok.tolist() == [0, 1, 0, 1]


def test_score_labels_treat_ties_as_weak_good_enough() -> None:
    t = table([7, 9, 8], [9, 9, 6], kind="score")
    assert t.strong_better.tolist() == [1, 0, 0]
    assert t.weak_better.tolist() == [0, 0, 1]
    assert t.weak_ok.tolist() == [0, 1, 1]


def test_tokens_default_to_prompt_estimates() -> None:
    t = Outcomes("t", ["x" * 40], np.array([1.0]), np.array([0.0]), "binary")
    assert t.weak_tokens.tolist() == [10.0] and t.strong_tokens.tolist() == [10.0]


def test_misaligned_columns_are_refused() -> None:
    with pytest.raises(ValueError, match="one value per prompt"):
        Outcomes("t", ["a", "b"], np.array([1.0]), np.array([0.0, 1.0]), "binary")


def test_concat_and_subset() -> None:
    joined = concat([table([1], [0]), table([0, 0], [1, 1])])
    assert len(joined) == 3 and joined.strong.tolist() == [0, 1, 1]
    assert joined.subset(np.array([2, 0])).weak.tolist() == [0, 1]
    with pytest.raises(ValueError, match="binary outcomes with scores"):
        concat([table([1], [0]), table([1], [0], kind="score")])


def test_identical_prompts_share_a_fold() -> None:
    prompts = [f"q{i % 37}" for i in range(400)]
    folds = fold_of_rows(prompts, 5, seed=3)
    for prompt in set(prompts):
        assert len({int(f) for p, f in zip(prompts, folds, strict=True) if p == prompt}) == 1
    distinct_per_fold = [
        len({p for p, f in zip(prompts, folds, strict=True) if f == k}) for k in range(5)
    ]
    assert max(distinct_per_fold) - min(distinct_per_fold) <= 1
    assert prompt_groups(["a", "b", "a"]).tolist() == [0, 1, 0]


def test_fold_count_is_checked() -> None:
    with pytest.raises(ValueError, match="distinct prompts"):
        fold_of_rows(["a", "a", "b"], 3, seed=0)
