"""``pointsman cache eval`` on a seeded sample of the QQP pairs (read in place).

The full run (80,854 pairs) takes minutes of CPU for the embeddings; 300 pairs keep this test
to seconds while still checking the protocol end to end: both baselines, the curve with and
without the verifier, the split, JSON.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from pointsman.cache.minilm import missing_extra
from pointsman.cache.settings import DEFAULT_THRESHOLD
from pointsman.cli import app

SAMPLE = 300


def run(data: Path, embedder: str, *more: str) -> dict[str, object]:
    args = ["cache", "eval", "--data", str(data), "--embedder", embedder, *more]
    result = CliRunner().invoke(app, [*args, "--limit", str(SAMPLE), "--json"])
    assert result.exit_code == 0, result.output
    report: dict[str, object] = json.loads(result.output)
    return report


def test_eval_hashing_reports_baselines_and_curve(shared_data: Path) -> None:
    report = run(shared_data / "cache" / "qqp_pairs.jsonl.gz", "hashing")
    assert report["pairs"] == SAMPLE
    overlap = report["word_overlap"]
    assert isinstance(overlap, list) and len(overlap) == 11
    # word overlap: precision about 0.5 wherever it has a sizeable number of hits
    assert all(0.3 < p["precision"] < 0.75 for p in overlap if p["hits"] >= 30)
    curve = report["semantic"]
    assert isinstance(curve, list)
    recalls = [p["recall"] for p in curve]
    assert recalls == sorted(recalls, reverse=True) and recalls[0] > recalls[-1]
    verified = report["verified"]  # the verifier only ever removes hits, false ones first
    assert isinstance(verified, list) and len(verified) == len(curve)
    assert all(v["hits"] <= c["hits"] for v, c in zip(verified, curve, strict=True))
    assert verified[0]["precision"] > curve[0]["precision"]
    assert report["split"] == "all" and report["verifier_us"] > 0
    shipped = report["shipped"]
    assert isinstance(shipped, dict) and shipped["threshold"] == DEFAULT_THRESHOLD


def test_eval_on_the_heldout_half(shared_data: Path) -> None:
    report = run(shared_data / "cache" / "qqp_pairs.jsonl.gz", "hashing", "--split", "heldout")
    assert report["split"] == "heldout" and report["pairs"] == SAMPLE
    notes = report["notes"]
    assert isinstance(notes, list) and any("heldout half" in note for note in notes)


@pytest.mark.skipif(missing_extra() is not None, reason=missing_extra() or "")
def test_eval_local_model_beats_word_overlap(shared_data: Path) -> None:
    report = run(shared_data / "cache" / "qqp_pairs.jsonl.gz", "local")
    semantic = {p["threshold"]: p for p in report["semantic"]}  # type: ignore[union-attr]
    overlap = report["word_overlap"]
    best_overlap = max(p["precision"] for p in overlap if p["hits"] >= 20)  # type: ignore[union-attr]
    assert semantic[0.9]["precision"] > best_overlap
    assert semantic[0.9]["unrelated_false_hit_rate"] <= 0.001
    verified = {p["threshold"]: p for p in report["verified"]}  # type: ignore[union-attr]
    assert verified[0.9]["precision"] > semantic[0.9]["precision"]


def test_eval_refuses_a_missing_file(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["cache", "eval", "--data", str(tmp_path / "none.jsonl")])
    assert result.exit_code != 0
