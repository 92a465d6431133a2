"""``pointsman cache ...``: measure the semantic cache's false hits on question pairs."""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

from pointsman.cache.settings import EVAL_DATA as DEFAULT_DATA

if TYPE_CHECKING:
    from pointsman.cache.embedders import Embedder, HashingEmbedder
    from pointsman.cache.evaluation import Point, Report
    from pointsman.cache.minilm import MiniLMEmbedder

cache_app = typer.Typer(no_args_is_help=True, help="Response cache tools.")
console = Console()


class Split(StrEnum):
    all = "all"
    tuning = "tuning"
    heldout = "heldout"


THRESHOLDS = [round(0.80 + 0.01 * i, 2) for i in range(20)] + [0.995, 0.998, 1.0]


def _embedder(name: str, threads: int) -> MiniLMEmbedder | HashingEmbedder:
    from pointsman.cache.embedders import HashingEmbedder  # NumPy: only for this command
    from pointsman.cache.minilm import MiniLMEmbedder, missing_extra

    if name == "hashing":
        return HashingEmbedder()
    if name == "local":
        problem = missing_extra()
        if problem is not None:
            raise typer.BadParameter(problem, param_hint="--embedder")
        return MiniLMEmbedder(threads=threads)
    raise typer.BadParameter("use 'local' or 'hashing'", param_hint="--embedder")


def _table(title: str, points: list[Point], mark: Point | None = None) -> Table:
    table = Table(title=title)
    for column in ("threshold", "hits", "precision", "recall", "F1", "false hits (neg)"):
        table.add_column(column, justify="right")
    table.add_column("false hits (unrelated)", justify="right")
    for p in points:
        style = "bold green" if mark is not None and p.threshold == mark.threshold else None
        table.add_row(
            f"{p.threshold:g}",
            f"{p.hits:,}",
            f"{p.precision:.3f}",
            f"{p.recall:.3f}",
            f"{p.f1:.3f}",
            f"{p.false_hit_rate:.2%}",
            f"{p.unrelated_false_hit_rate:.3%}",
            style=style,
        )
    return table


def _show(report: Report) -> None:
    half = "" if report.split == "all" else f", {report.split} half"
    console.print(
        f"[bold]{report.pairs:,} pairs[/] ({report.duplicates:,} duplicates{half}), "
        f"embedder [bold]{report.embedder}[/]"
    )
    console.print(_table("Exact match (case and surrounding spaces ignored)", [report.exact]))
    console.print(_table("Word overlap (Jaccard) baseline", report.word_overlap))
    console.print(_table("Semantic: cosine alone", report.semantic))
    console.print(
        _table("Semantic: cosine, then the verifier (as served)", report.verified, report.shipped)
    )
    console.print(f"verifier: {report.verifier_us:.0f} µs per check (mean, this run)")
    shipped = report.shipped
    if shipped is not None:
        console.print(
            f"Shipped default (threshold {shipped.threshold:g} + verifier, highlighted): "
            f"precision [bold]{shipped.precision:.3f}[/], recall {shipped.recall:.3f}, "
            f"unrelated false hits {shipped.unrelated_false_hit_rate:.3%}"
        )
    best = report.recommended
    if best is None:
        console.print(
            "[yellow]No threshold reaches precision >= 0.95 with <= 0.1 % unrelated false "
            "hits on this data.[/]"
        )
    else:
        console.print(
            "Lowest threshold meeting precision >= 0.95 and <= 0.1 % unrelated false hits "
            f"(with the verifier): "
            f"[bold]{best.threshold:g}[/] (recall {best.recall:.3f}, "
            f"hit rate {best.hits / report.pairs:.2%})"
        )


@cache_app.command("eval")
def eval_command(
    data: Annotated[
        Path, typer.Option("--data", help="JSON lines of {text_a, text_b, duplicate} (.gz ok)")
    ] = DEFAULT_DATA,
    embedder: Annotated[
        str, typer.Option(help="local (MiniLM, the semantic extra) or hashing")
    ] = "local",
    limit: Annotated[
        int | None, typer.Option(help="evaluate a seeded sample of this many pairs")
    ] = None,
    split: Annotated[
        Split,
        typer.Option(
            help="all pairs, or one half of the split that keeps each question on one side "
            "(the verifier and default threshold were designed on 'tuning')"
        ),
    ] = Split.all,
    threads: Annotated[int, typer.Option(min=1, help="CPU threads for the local model")] = 2,
    as_json: Annotated[bool, typer.Option("--json", help="print every figure as JSON")] = False,
) -> None:
    """Store text_a, query text_b: precision, recall and false hits across thresholds, for
    cosine alone and with the verifier the cache applies before serving."""
    if not data.is_file():
        raise typer.BadParameter(f"no such file: {data}", param_hint="--data")
    from pointsman.cache.evaluation import evaluate, load_pairs, sample_pairs, split_pairs

    pairs = sample_pairs(split_pairs(load_pairs(data))[split.value], limit)
    model: Embedder = _embedder(embedder, threads)
    embed = model.embed_now  # type: ignore[attr-defined]
    if not as_json:
        console.print(f"embedding {2 * len(pairs):,} texts with {model.name} ...")
    report = evaluate(pairs, embed, model.name, THRESHOLDS, split=split.value)
    if split is not Split.all:
        report.notes.append(f"{split.value} half of the question-disjoint split")
    if limit is not None:
        report.notes.append(f"seeded sample of {len(pairs)} pairs")
    if as_json:
        typer.echo(json.dumps(report.as_dict(), indent=2))
    else:
        _show(report)
