"""``pointsman route eval`` and ``pointsman route train``: the router, proven offline.

Both read per-prompt outcome tables (see :mod:`pointsman.routing.evaluation.data` for formats).
Heavy imports (numpy, the trainer) happen inside the commands, so ``pointsman --help`` stays fast.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, cast

import typer
from rich.console import Console

if TYPE_CHECKING:
    from pointsman.routing.classifier import Label
    from pointsman.routing.evaluation.run import Prices
    from pointsman.routing.outcomes import Outcomes

route_app = typer.Typer(
    no_args_is_help=True, help="Evaluate and train the complexity router offline."
)
console = Console(stderr=True)

DataPath = Annotated[
    Path, typer.Option("--data", help="CSV/JSONL file, directory of them, or MT-Bench directory.")
]
WeakColumn = Annotated[str, typer.Option("--weak", help="Column (model) of the weak/cheap model.")]
StrongColumn = Annotated[str, typer.Option("--strong", help="Column (model) of the strong model.")]
Exclude = Annotated[
    list[Path] | None,
    typer.Option("--exclude", help="JSONL of prompts to drop (eval_prompt/prompt); repeatable."),
]
Glob = Annotated[str, typer.Option("--glob", help="Files to read from a --data directory.")]
Folds = Annotated[int, typer.Option("--folds", min=2, help="Folds for k-fold by prompt.")]
Seed = Annotated[int, typer.Option("--seed", help="Seed for folds, random router, bootstrap.")]


def _load(path: Path, weak: str, strong: str, exclude: list[Path], glob: str) -> Outcomes:
    from pointsman.routing.evaluation.data import DataError, load_outcomes

    try:
        return load_outcomes(path, weak, strong, exclude, glob)
    except DataError as error:
        console.print(f"[bold red]data error[/]: {error}")
        raise typer.Exit(2) from None


def _prices(
    weak_price: float | None,
    strong_price: float | None,
    prices: Path | None,
    weak: str,
    strong: str,
) -> Prices | None:
    from pointsman.routing.evaluation.data import DataError, load_prices
    from pointsman.routing.evaluation.run import Prices

    if prices is not None:
        try:
            return Prices(*load_prices(prices, weak, strong))
        except DataError as error:
            console.print(f"[bold red]price error[/]: {error}")
            raise typer.Exit(2) from None
    if (weak_price is None) != (strong_price is None):
        console.print("[bold red]error[/]: give both --weak-price and --strong-price, or --prices")
        raise typer.Exit(2)
    if weak_price is None or strong_price is None:
        return None
    return Prices(weak_price, strong_price)


def _label(name: str) -> Label:
    from pointsman.routing.classifier import LABEL_HEADS

    if name not in LABEL_HEADS:
        console.print(f"[bold red]error[/]: unknown label {name!r}; use {', '.join(LABEL_HEADS)}")
        raise typer.Exit(2)
    return cast("Label", name)


def _hint_contamination(path: Path, exclude: list[Path]) -> None:
    beside = (path if path.is_dir() else path.parent) / "contaminated_prompts.jsonl"
    if beside.is_file() and beside not in exclude:
        console.print(f"[yellow]note[/]: {beside} exists; pass --exclude {beside} to drop them")


@route_app.command("eval")
def eval_command(
    data: DataPath,
    weak: WeakColumn,
    strong: StrongColumn,
    exclude: Exclude = None,
    glob: Glob = "*.csv",
    weak_price: Annotated[
        float | None, typer.Option(help="Weak model price, USD per million tokens.")
    ] = None,
    strong_price: Annotated[
        float | None, typer.Option(help="Strong model price, USD per million tokens.")
    ] = None,
    prices: Annotated[
        Path | None, typer.Option(help="JSON/YAML: model name (or weak/strong) → USD per Mtok.")
    ] = None,
    model: Annotated[
        Path | None, typer.Option(help="Classifier model file (default: the shipped one).")
    ] = None,
    folds: Folds = 5,
    labels: Annotated[
        str, typer.Option(help="Labels to retrain k-fold, comma-separated; '' for none.")
    ] = "gain",
    bootstrap: Annotated[int, typer.Option(min=0, help="Bootstrap resamples for CIs.")] = 1000,
    seed: Seed = 0,
    as_json: Annotated[bool, typer.Option("--json", help="Print every figure as JSON.")] = False,
    plot: Annotated[Path | None, typer.Option(help="Write the curves to this PNG.")] = None,
    curve_points: Annotated[
        int, typer.Option(help="Curve points in JSON (0: every exact sweep point).")
    ] = 101,
) -> None:
    """Quality-vs-cost of random, prompt-length, oracle, shipped and retrained routers."""
    from pointsman.routing.classifier import ComplexityClassifier, ModelFileError
    from pointsman.routing.evaluation import report, routers
    from pointsman.routing.evaluation.run import evaluate

    excluded = list(exclude or [])
    _hint_contamination(data, excluded)
    outcomes = _load(data, weak, strong, excluded, glob)
    price = _prices(weak_price, strong_price, prices, weak, strong)
    try:
        classifier = ComplexityClassifier.load(model)
    except (OSError, ModelFileError) as error:
        console.print(f"[bold red]model error[/]: {error}")
        raise typer.Exit(2) from None
    chosen = [_label(label.strip()) for label in labels.split(",") if label.strip()]
    lineup: list[routers.Router] = [
        routers.RandomRouter(seed),
        routers.LengthRouter(),
        routers.OracleRouter(),
        routers.ClassifierRouter(classifier, "shipped-classifier" if model is None else "model"),
    ]
    lineup += [routers.KFoldRouter(label, folds, seed) for label in chosen]
    result = evaluate(
        outcomes,
        lineup,
        price,
        bootstrap,
        seed,
        progress=lambda name: console.print(f"[dim]scoring {name} …[/]"),
    )
    if plot is not None:
        try:
            report.plot(result, plot)
        except RuntimeError as error:
            console.print(f"[bold red]error[/]: {error}")
            raise typer.Exit(2) from None
        console.print(f"[green]wrote[/] {plot}")
    if as_json:
        sys.stdout.write(json.dumps(report.to_json(result, curve_points), indent=1) + "\n")
    else:
        out = Console()
        report.render(result, out if out.is_terminal else Console(width=170))


@route_app.command("train")
def train_command(
    data: Annotated[
        list[Path], typer.Option("--data", help="Outcome table(s), as for eval; repeatable.")
    ],
    weak: WeakColumn,
    strong: StrongColumn,
    out: Annotated[Path, typer.Option("--out", help="Where to write the model JSON.")],
    exclude: Exclude = None,
    glob: Glob = "*.csv",
    label: Annotated[str, typer.Option(help="gain, strong-better or weak-ok.")] = "gain",
    folds: Folds = 5,
    seed: Seed = 0,
    max_features: Annotated[int, typer.Option(min=100, help="Vocabulary size cap.")] = 30_000,
) -> None:
    """Train the classifier on logged outcomes and write a model file (with calibration)."""
    from pointsman.routing.outcomes import concat
    from pointsman.routing.training import train

    chosen = _label(label)
    excluded = list(exclude or [])
    tables = [_load(path, weak, strong, excluded, glob) for path in data]
    try:
        outcomes = concat(tables)
    except ValueError as error:
        console.print(f"[bold red]data error[/]: {error}")
        raise typer.Exit(2) from None
    console.print(
        f"training on {len(outcomes)} prompts ({', '.join(f'{t.name}: {len(t)}' for t in tables)})"
        f", label {label}, {folds}-fold calibration …"
    )
    try:
        model = train(
            outcomes,
            chosen,
            folds,
            seed,
            max_features,
            sources=[f"{t.name} ({len(t)} prompts)" for t in tables],
        )
    except ValueError as error:
        console.print(f"[bold red]cannot train[/]: {error}")
        raise typer.Exit(2) from None
    out.parent.mkdir(parents=True, exist_ok=True)
    model.save(out)
    figures = model.training.details["out_of_fold"]
    console.print(
        f"[green]wrote[/] {out} ({out.stat().st_size / 1e6:.2f} MB); out-of-fold APGR "
        f"{figures['apgr']}, CPT50 {figures['cpt50']}, CPT80 {figures['cpt80']}"
    )
