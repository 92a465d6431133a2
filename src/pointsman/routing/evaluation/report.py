"""How an :class:`~pointsman.routing.evaluation.run.Evaluation` is shown: JSON, Rich tables, PNG.

The JSON holds every figure with its 95 % bootstrap interval (``null`` where undefined) and each
router's curve sampled at every whole percent of strong calls (or every exact sweep point with
``curve_points=0``). Costs are USD per 1,000 requests.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console
from rich.table import Table

from pointsman.routing.evaluation import metrics
from pointsman.routing.evaluation.run import Evaluation, RouterResult

PER_THOUSAND = 1000.0
NOT_AVAILABLE = "n/a"


def _number(value: float, digits: int = 6) -> float | None:
    return round(value, digits) if math.isfinite(value) else None


def _curve_json(result: RouterResult, points: int) -> dict[str, list[float | None]]:
    curve = result.curve
    if points <= 0:
        share, quality, cost = curve.share[0], curve.quality[0], curve.cost[0]
    else:
        share = np.linspace(0.0, 1.0, points)
        quality = np.interp(share, curve.share[0], curve.quality[0])
        cost = np.interp(share, curve.share[0], curve.cost[0])
    return {
        "strong_share": [_number(float(v)) for v in share],
        "quality": [_number(float(v)) for v in quality],
        "cost_per_1k_requests": [_number(float(v) * PER_THOUSAND) for v in cost],
    }


def to_json(evaluation: Evaluation, curve_points: int = 101) -> dict[str, Any]:
    """Every figure of the evaluation as plain JSON-ready data."""
    outcomes = evaluation.outcomes
    first = evaluation.results[0].curve if evaluation.results else None
    routers = []
    for result in evaluation.results:
        figures = {
            name: {
                "value": _number(f.value),
                "low": _number(f.low),
                "high": _number(f.high),
            }
            for name, f in result.figures.items()
        }
        routers.append(
            {
                "name": result.name,
                "description": result.description,
                "in_sample_share": result.in_sample_share,
                "note": result.note or None,
                "seconds": round(result.seconds, 3),
                "figures": figures,
                "apgr_minus_prompt_length": (
                    {
                        "value": _number(result.apgr_vs_baseline.value),
                        "low": _number(result.apgr_vs_baseline.low),
                        "high": _number(result.apgr_vs_baseline.high),
                    }
                    if result.apgr_vs_baseline
                    else None
                ),
                "curve": _curve_json(result, curve_points),
            }
        )
    prices = evaluation.prices
    return {
        "data": {
            "name": outcomes.name,
            "prompts": len(outcomes),
            "distinct_prompts": len(set(outcomes.prompts)),
            "outcome_kind": outcomes.kind,
            "weak_model": outcomes.weak_name,
            "strong_model": outcomes.strong_name,
            "weak_quality": _number(float(first.weak_quality[0])) if first else None,
            "strong_quality": _number(float(first.strong_quality[0])) if first else None,
            "prices_usd_per_million_tokens": (
                {"weak": prices.weak, "strong": prices.strong} if prices else None
            ),
        },
        "settings": {
            "bootstrap_replicates": evaluation.replicates,
            "seed": evaluation.seed,
            "confidence": 0.95,
            "cost_unit": "USD per 1,000 requests",
        },
        "routers": routers,
    }


def _ci(figure: metrics.Figure, percent: bool = False, digits: int = 3) -> str:
    if not math.isfinite(figure.value):
        return NOT_AVAILABLE
    scale, unit = (100.0, " %") if percent else (1.0, "")
    d = 1 if percent else digits
    text = f"{figure.value * scale:.{d}f}{unit}"
    if math.isfinite(figure.low):
        text += f" [{figure.low * scale:.{d}f}, {figure.high * scale:.{d}f}]"
    return text


def render(evaluation: Evaluation, console: Console) -> None:
    """Two Rich tables: gap-recovery figures, then quality at fixed shares and cost."""
    data = to_json(evaluation, curve_points=2)["data"]
    console.print(
        f"[bold]{data['name']}[/]: {data['prompts']} prompts ({data['outcome_kind']}), "
        f"weak {data['weak_model']} = {data['weak_quality']:.4f}, "
        f"strong {data['strong_model']} = {data['strong_quality']:.4f}; "
        f"95 % bootstrap intervals over {evaluation.replicates} resamples"
    )
    recovery = Table(title="Gap recovery (exact threshold sweep)")
    headers = ("router", "APGR", "APGR vs length", "CPT(50 %)", "CPT(80 %)", "CPT(95 %)", "note")
    for column in headers:
        recovery.add_column(column, justify="left" if column in ("router", "note") else "right")
    for result in evaluation.results:
        f = result.figures
        recovery.add_row(
            result.name,
            _ci(f["apgr"]),
            _ci(result.apgr_vs_baseline) if result.apgr_vs_baseline else NOT_AVAILABLE,
            _ci(f["cpt50"], percent=True),
            _ci(f["cpt80"], percent=True),
            _ci(f["cpt95"], percent=True),
            result.note,
        )
    console.print(recovery)
    shares = Table(title="Quality at a share of strong calls; reaching 95 % of strong quality")
    columns = [f"Q@{round(s * 100)} %" for s in metrics.SHARES]
    for column in ("router", *columns, "strong share", "$/1k req (vs all-strong)"):
        shares.add_column(column, justify="left" if column == "router" else "right")
    digits = 3 if evaluation.outcomes.kind == "binary" else 2
    for result in evaluation.results:
        f = result.figures
        cost = f["cost_for_95pct_strong_quality"]
        relative = f["relative_cost_for_95pct_strong_quality"].value
        cost_text = NOT_AVAILABLE
        if math.isfinite(cost.value):
            cost_text = f"{cost.value * PER_THOUSAND:.3f} ({relative:.0%})"
        shares.add_row(
            result.name,
            *(_ci(f[f"quality_at_{round(s * 100)}"], digits=digits) for s in metrics.SHARES),
            _ci(f["share_for_95pct_strong_quality"], percent=True),
            cost_text,
        )
    console.print(shares)


def plot(evaluation: Evaluation, path: Path) -> None:
    """Quality against strong share (and against cost, with prices) as a PNG at ``path``.

    Raises ``RuntimeError`` when matplotlib (the ``eval`` extra) is not installed.
    """
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise RuntimeError("plotting needs matplotlib: pip install 'pointsman[eval]'") from None
    outcomes = evaluation.outcomes
    with_cost = evaluation.prices is not None
    fig, axes = plt.subplots(1, 2 if with_cost else 1, figsize=(13 if with_cost else 7, 5))
    panels = list(np.atleast_1d(axes))
    for result in evaluation.results:
        curve = result.curve
        label = f"{result.name} (APGR {result.figures['apgr'].value:.3f})"
        if result.in_sample_share:
            label += " in-sample"
        style = "--" if result.name in ("random", "oracle") else "-"
        panels[0].plot(curve.share[0] * 100, curve.quality[0], style, label=label, linewidth=1.4)
        if with_cost:
            panels[1].plot(curve.cost[0] * PER_THOUSAND, curve.quality[0], style, label=label)
    if evaluation.results:
        curve = evaluation.results[0].curve
        for panel in panels:
            panel.axhline(curve.weak_quality[0], color="grey", linestyle=":", linewidth=1)
            panel.axhline(curve.strong_quality[0], color="black", linestyle=":", linewidth=1)
    panels[0].set_xlabel("strong-model calls (%)")
    panels[0].set_ylabel("quality")
    panels[0].set_title(f"{outcomes.name}: {outcomes.weak_name} → {outcomes.strong_name}")
    panels[0].legend(fontsize=8, loc="lower right")
    if with_cost:
        panels[1].set_xlabel("cost (USD per 1,000 requests)")
        panels[1].set_ylabel("quality")
        panels[1].set_title("quality vs cost")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
