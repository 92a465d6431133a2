"""Outcome files as ``pointsman route`` reads them: formats, exclusions, MT-Bench, errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from pointsman.cli import app
from pointsman.routing.evaluation.data import (
    DataError,
    load_outcomes,
    load_prices,
    read_exclusions,
)

runner = CliRunner()


def write_jsonl(path: Path, records: list[dict[str, object]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


def test_csv_with_true_false_and_response_tokens(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text(
        'prompt,w,s,w_response\n"multi\nline",True,False,' + "x" * 40 + "\ntwo,false,TRUE,\n"
    )
    t = load_outcomes(path, "w", "s")
    assert t.prompts == ["multi\nline", "two"]
    assert t.kind == "binary"
    assert t.weak.tolist() == [1.0, 0.0] and t.strong.tolist() == [0.0, 1.0]
    assert t.weak_tokens.tolist() == [3.0 + 10.0, 1.0]  # prompt plus recorded response
    assert t.strong_tokens.tolist() == [3.0, 1.0]


def test_jsonl_scores(tmp_path: Path) -> None:
    path = write_jsonl(
        tmp_path / "t.jsonl",
        [{"prompt": "a", "w": 7.5, "s": 9}, {"prompt": "b", "w": 1, "s": 0}],
    )
    t = load_outcomes(path, "w", "s")
    assert t.kind == "score"
    assert t.weak.tolist() == [7.5, 1.0]


def test_directory_glob_and_exclusions(tmp_path: Path) -> None:
    (tmp_path / "a_1.csv").write_text("prompt,w,s\nq1,1,0\nq2,0,1\n")
    (tmp_path / "a_2.csv").write_text("prompt,w,s\nq3,1,1\n")
    (tmp_path / "other.txt").write_text("ignored")
    exclude = write_jsonl(tmp_path / "drop.jsonl", [{"eval_prompt": "q2"}, {"prompt": "q9"}])
    assert read_exclusions([exclude]) == {"q2", "q9"}
    t = load_outcomes(tmp_path, "w", "s", [exclude])
    assert t.prompts == ["q1", "q3"]
    assert len(load_outcomes(tmp_path, "w", "s", pattern="a_2.*")) == 1


def test_mt_bench_directory(tmp_path: Path) -> None:
    write_jsonl(
        tmp_path / "question.jsonl",
        [
            {"question_id": 1, "turns": ["first q", "follow up"]},
            {"question_id": 2, "turns": ["dropped q", "its follow up"]},
        ],
    )
    judgements = [
        {"question_id": q, "model": m, "turn": t, "score": score}
        for q, m, t, score in [
            (1, "w", 1, 6), (1, "w", 2, 8), (1, "s", 1, 9), (1, "s", 2, 10),
            (2, "w", 1, 1), (2, "w", 2, 1), (2, "s", 1, 1), (2, "s", 2, 1),
        ]
    ]  # fmt: skip
    write_jsonl(tmp_path / "judgements.jsonl", judgements)
    exclude = write_jsonl(tmp_path / "x.jsonl", [{"eval_prompt": "its follow up"}])
    t = load_outcomes(tmp_path, "w", "s", [exclude])
    assert t.prompts == ["first q"]  # routed on turn one; question 2 dropped by its turn two
    assert t.kind == "score"
    assert (t.weak.tolist(), t.strong.tolist()) == ([7.0], [9.5])  # mean over turns
    with pytest.raises(DataError, match="no judgements for 'gpt'"):
        load_outcomes(tmp_path, "w", "gpt")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("question,w,s\nq,1,0\n", "no 'prompt' column"),
        ("prompt,w,x\nq,1,0\n", "no column 's'"),
        ("prompt,w,s\nq,1,maybe\n", "neither True/False"),
    ],
)
def test_bad_tables_name_the_problem(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(content)
    with pytest.raises(DataError, match=message):
        load_outcomes(path, "w", "s")


def test_missing_paths_and_empty_results(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="no such file"):
        load_outcomes(tmp_path / "nope.csv", "w", "s")
    with pytest.raises(DataError, match="no files match"):
        load_outcomes(tmp_path, "w", "s")
    (tmp_path / "t.csv").write_text("prompt,w,s\nq,1,0\n")
    exclude = write_jsonl(tmp_path / "x.jsonl", [{"prompt": "q"}])
    with pytest.raises(DataError, match="no rows left"):
        load_outcomes(tmp_path / "t.csv", "w", "s", [exclude])


def test_prices_by_model_name_or_role(tmp_path: Path) -> None:
    by_name = tmp_path / "p.yaml"
    by_name.write_text("w: 0.5\ns: 10\n")
    assert load_prices(by_name, "w", "s") == (0.5, 10.0)
    by_role = tmp_path / "p.json"
    by_role.write_text('{"weak": 1, "strong": 2}')
    assert load_prices(by_role, "w", "s") == (1.0, 2.0)
    by_role.write_text('{"weak": 1}')
    with pytest.raises(DataError, match="'s'"):
        load_prices(by_role, "w", "s")


def test_cli_reports_data_errors_with_exit_code_2(tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text("prompt,w\nq,1\n")
    result = runner.invoke(
        app, ["route", "eval", "--data", str(path), "--weak", "w", "--strong", "s"]
    )
    assert result.exit_code == 2
    assert "no column 's'" in " ".join(result.output.split())
    result = runner.invoke(
        app,
        ["route", "eval", "--data", str(path), "--weak", "w", "--strong", "s", "--weak-price", "1"],
    )
    assert result.exit_code == 2


def test_cli_eval_small_table_without_prices(tmp_path: Path) -> None:
    rows = "".join(
        f"question {i} {'hard' if i % 3 == 0 else 'easy'},{i % 3 != 0},True\n" for i in range(60)
    )
    path = tmp_path / "t.csv"
    path.write_text("prompt,w,s\n" + rows)
    result = runner.invoke(
        app,
        [
            "route", "eval", "--data", str(path), "--weak", "w", "--strong", "s",
            "--bootstrap", "20", "--folds", "3", "--labels", "gain,weak-ok",
        ],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "retrained-3fold-weak-ok" in out and "APGR" in out and "Q@50 %" in out
