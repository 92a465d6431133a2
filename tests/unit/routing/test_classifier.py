"""The per-request API: score, decide (routing up when unsure), thresholds, model files."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from pointsman.routing.classifier import ComplexityClassifier, ModelFileError


def test_score_is_a_probability_and_ranks_the_signal(classifier: ComplexityClassifier) -> None:
    hard = classifier.score("the integral of what river is a music which for engine question 7?")
    easy = classifier.score("the capital of what river is a music which for engine question 7?")
    assert 0.0 < hard < easy < 1.0


def test_message_lists_are_scored_on_the_last_user_turn(classifier: ComplexityClassifier) -> None:
    messages = [
        {"role": "user", "content": "the capital of river music"},
        {"role": "assistant", "content": "..."},
        {"role": "user", "content": "the integral of river music"},
    ]
    assert classifier.score(messages) == classifier.score("the integral of river music")


def test_decide_routes_by_threshold(classifier: ComplexityClassifier) -> None:
    prompt = "the capital of the river and garden"
    score = classifier.score(prompt)
    assert classifier.decide(prompt, score).tier == "cheap"
    below = classifier.decide(prompt, math.nextafter(score, 2.0))
    assert (below.tier, below.reason) == ("strong", "score")
    assert classifier.decide(prompt, classifier.threshold_for_strong_share(0.0)).tier == "cheap"
    assert classifier.decide(prompt, classifier.threshold_for_strong_share(1.0)).tier == "strong"


def test_decide_routes_up_when_unsure(classifier: ComplexityClassifier) -> None:
    assert classifier.decide("   ", 0.0).reason == "no-text"
    assert classifier.decide([{"role": "system", "content": "x"}], 0.0).reason == "no-text"
    image = [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "the capital of the river"},
                {"type": "image_url", "image_url": {"url": "data:x"}},
            ],
        }
    ]
    decision = classifier.decide(image, 0.0)
    assert (decision.tier, decision.reason) == ("strong", "non-text-content")
    foreign = classifier.decide("Однажды в студёную зимнюю пору", 0.0)
    assert (foreign.tier, foreign.reason) == ("strong", "unfamiliar")
    assert (
        classifier.decide("Однажды в студёную зимнюю пору", 0.0, min_coverage=0.0).tier == "cheap"
    )


def test_threshold_for_quality_is_monotone(classifier: ComplexityClassifier) -> None:
    thresholds = [classifier.threshold_for_quality(q) for q in (0.2, 0.5, 0.8, 0.95)]
    assert thresholds == sorted(thresholds)


def test_save_and_load_round_trip(classifier: ComplexityClassifier, tmp_path: Path) -> None:
    path = tmp_path / "model.json"
    classifier.save(path)
    loaded = ComplexityClassifier.load(path)
    for prompt in ("the integral of music", "the capital of a garden", "what?"):
        assert loaded.score(prompt) == pytest.approx(classifier.score(prompt), abs=1e-3)
    assert loaded.training.fingerprints == classifier.training.fingerprints
    assert loaded.threshold_for_strong_share(0.3) == pytest.approx(
        classifier.threshold_for_strong_share(0.3)
    )


def test_bad_model_files_are_refused(classifier: ComplexityClassifier, tmp_path: Path) -> None:
    data = classifier.to_dict()
    with pytest.raises(ModelFileError, match="not a pointsman"):
        ComplexityClassifier.from_dict({**data, "format": "other"})
    with pytest.raises(ModelFileError, match="retrain"):
        ComplexityClassifier.from_dict({**data, "feature_version": 999})
    with pytest.raises(ModelFileError, match="head"):
        ComplexityClassifier.from_dict({**data, "label": "weak-ok"})
    broken = tmp_path / "broken.json"
    broken.write_text("{nope")
    with pytest.raises(ModelFileError, match="not JSON"):
        ComplexityClassifier.load(broken)
    uncalibrated = ComplexityClassifier.from_dict({**data, "calibration": None})
    with pytest.raises(RuntimeError, match="no calibration"):
        uncalibrated.score("x")
    assert json.loads(json.dumps(data)) == data
