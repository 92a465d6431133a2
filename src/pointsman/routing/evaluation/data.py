"""Loading per-prompt outcome tables for ``pointsman route eval`` and ``pointsman route train``.

Accepted inputs (``--data``):

* a CSV or JSONL file with a ``prompt`` column and one column per model holding correctness
  (True/False, true/false, 1/0, yes/no) or a numeric score; a column ``<model>_response``, when
  present, counts towards that model's billed tokens;
* a directory: every file in it matching ``pattern`` (default ``*.csv``), concatenated in name
  order (the RouteLLM ``mmlu/mmlu_<subject>.csv`` files load this way);
* an MT-Bench directory (it holds ``judgements.jsonl`` and ``question.jsonl``), see
  :func:`load_mt_bench`.

``exclude`` files are JSONL with one object per line naming a prompt to drop under
``eval_prompt`` (RouteLLM's ``contaminated_prompts.jsonl``) or ``prompt``; matching is exact, as in
RouteLLM.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from pointsman.core.tokens import estimate_text_tokens
from pointsman.routing.outcomes import OutcomeKind, Outcomes

BINARY_VALUES = {"true": 1.0, "false": 0.0, "1": 1.0, "0": 0.0, "yes": 1.0, "no": 0.0}
BINARY_VALUES |= {"1.0": 1.0, "0.0": 0.0}


class DataError(ValueError):
    """Input data that cannot be used; the message names the file, the row and the fix."""


def read_exclusions(paths: Iterable[Path]) -> set[str]:
    """Prompts named in JSONL exclusion files (keys ``eval_prompt`` or ``prompt``)."""
    excluded: set[str] = set()
    for path in paths:
        for number, record in _jsonl(path):
            prompt = record.get("eval_prompt", record.get("prompt"))
            if not isinstance(prompt, str):
                raise DataError(f"{path}:{number}: expected an 'eval_prompt' or 'prompt' string")
            excluded.add(prompt)
    return excluded


def load_outcomes(
    path: Path,
    weak: str,
    strong: str,
    exclude: Sequence[Path] = (),
    pattern: str = "*.csv",
) -> Outcomes:
    """The outcome table at ``path`` (file, directory or MT-Bench directory), minus excluded
    prompts. Raises :class:`DataError` naming the problem."""
    excluded = read_exclusions(exclude)
    if path.is_dir() and (path / "judgements.jsonl").is_file():
        return load_mt_bench(path, weak, strong, excluded)
    if path.is_dir():
        files = sorted(p for p in path.glob(pattern) if p.is_file())
        if not files:
            raise DataError(f"{path}: no files match {pattern!r}; pass --glob to choose them")
    elif path.is_file():
        files = [path]
    else:
        raise DataError(f"{path}: no such file or directory")
    prompts: list[str] = []
    columns: dict[str, list[Any]] = {weak: [], strong: [], "weak_tokens": [], "strong_tokens": []}
    for file in files:
        for where, record in _records(file):
            prompt = record.get("prompt")
            if not isinstance(prompt, str):
                raise DataError(f"{where}: no 'prompt' column (columns: {', '.join(record)})")
            if prompt in excluded:
                continue
            for model, tokens in ((weak, "weak_tokens"), (strong, "strong_tokens")):
                if model not in record:
                    found = ", ".join(k for k in record if k != "prompt")
                    raise DataError(f"{where}: no column {model!r}; model columns: {found}")
                columns[model].append((where, record[model]))
                response = record.get(f"{model}_response")
                columns[tokens].append(
                    estimate_text_tokens(prompt)
                    + (estimate_text_tokens(response) if isinstance(response, str) else 0)
                )
            prompts.append(prompt)
    if not prompts:
        raise DataError(f"{path}: no rows left (all excluded or empty)")
    kind, weak_values, strong_values = _outcome_values(columns[weak], columns[strong])
    return Outcomes(
        path.name,
        prompts,
        weak_values,
        strong_values,
        kind,
        weak,
        strong,
        np.array(columns["weak_tokens"], dtype=np.float64),
        np.array(columns["strong_tokens"], dtype=np.float64),
    )


def load_mt_bench(directory: Path, weak: str, strong: str, excluded: set[str]) -> Outcomes:
    """MT-Bench as RouteLLM evaluates it.

    Protocol (RouteLLM's ``MTBench`` benchmark, single-answer grading with a GPT-4 judge, scores
    1-10): a question is routed on its *first* turn's text, and the routed model answers both
    turns; its outcome is the mean judge score over the question's judged turns. Questions whose
    first or second turn is excluded are dropped (80 → 72 with RouteLLM's contamination list).
    Billed tokens are estimated from both turns' question text (answers are not in the data).
    """
    questions = [record for _, record in _jsonl(directory / "question.jsonl")]
    scores: dict[tuple[int, str], list[float]] = {}
    for where, record in _jsonl(directory / "judgements.jsonl"):
        try:
            key = (int(record["question_id"]), str(record["model"]))
            scores.setdefault(key, []).append(float(record["score"]))
        except (KeyError, TypeError, ValueError):
            raise DataError(f"{where}: expected question_id, model and a numeric score") from None
    models = sorted({model for _, model in scores})
    for model in (weak, strong):
        if model not in models:
            raise DataError(f"{directory}: no judgements for {model!r}; models: {models}")
    prompts: list[str] = []
    weak_scores: list[float] = []
    strong_scores: list[float] = []
    tokens: list[int] = []
    for question in questions:
        turns = [str(turn) for turn in question["turns"]]
        if any(turn in excluded for turn in turns):
            continue
        qid = int(question["question_id"])
        for model, into in ((weak, weak_scores), (strong, strong_scores)):
            if (qid, model) not in scores:
                raise DataError(f"{directory}: question {qid} has no judgement for {model!r}")
            into.append(float(np.mean(scores[(qid, model)])))
        prompts.append(turns[0])
        tokens.append(sum(estimate_text_tokens(turn) for turn in turns))
    token_array = np.array(tokens, dtype=np.float64)
    return Outcomes(
        directory.name,
        prompts,
        np.array(weak_scores),
        np.array(strong_scores),
        "score",
        weak,
        strong,
        token_array,
        token_array.copy(),
    )


def load_prices(path: Path, weak: str, strong: str) -> tuple[float, float]:
    """(weak, strong) prices in USD per million tokens from a JSON or YAML mapping whose keys
    are the model names (or ``weak`` and ``strong``) and whose values are numbers."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as error:
        raise DataError(f"{path}: cannot read prices: {error}") from None
    if not isinstance(data, dict):
        raise DataError(f"{path}: expected a mapping of model name to USD per million tokens")
    prices = []
    for model, role in ((weak, "weak"), (strong, "strong")):
        value = data.get(model, data.get(role))
        if not isinstance(value, int | float) or value < 0:
            raise DataError(f"{path}: no non-negative number for {model!r} (or key {role!r})")
        prices.append(float(value))
    return prices[0], prices[1]


def _outcome_values(
    weak: list[tuple[str, Any]], strong: list[tuple[str, Any]]
) -> tuple[
    OutcomeKind, np.ndarray[Any, np.dtype[np.float64]], np.ndarray[Any, np.dtype[np.float64]]
]:
    pairs = weak + strong
    if all(_binary(value) is not None for _, value in pairs):
        kind: OutcomeKind = "binary"
        convert = _binary
    else:
        kind = "score"
        convert = _number
    values = []
    for where, value in pairs:
        number = convert(value)
        if number is None:
            raise DataError(f"{where}: {value!r} is neither True/False, 0/1 nor a number")
        values.append(number)
    array = np.array(values, dtype=np.float64)
    return kind, array[: len(weak)], array[len(weak) :]


def _binary(value: Any) -> float | None:
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, int | float) and value in (0, 1):
        return float(value)
    return BINARY_VALUES.get(str(value).strip().lower())


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return float(value)
    try:
        number = float(value)
    except (TypeError, ValueError):
        return _binary(value)
    return number if np.isfinite(number) else None


def _records(path: Path) -> Iterator[tuple[str, dict[str, Any]]]:
    if path.suffix.lower() in (".jsonl", ".ndjson"):
        yield from _jsonl(path)
        return
    with path.open(newline="", encoding="utf-8") as handle:
        for number, row in enumerate(csv.DictReader(handle), start=2):
            yield f"{path}:{number}", dict(row)


def _jsonl(path: Path) -> Iterator[tuple[str, dict[str, Any]]]:
    try:
        handle = path.open(encoding="utf-8")
    except OSError as error:
        raise DataError(f"{path}: {error.strerror}") from None
    with handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                raise DataError(f"{path}:{number}: not a JSON object") from None
            if not isinstance(record, dict):
                raise DataError(f"{path}:{number}: not a JSON object")
            yield f"{path}:{number}", record
