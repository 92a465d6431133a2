"""Key figures of a window of traffic: the arithmetic behind the gauges and the dashboard.

Every figure is computed from one :class:`~.window.Tally` (the sums of a window) and the
window's length in seconds; none is stored, so all are consistent with each other:

* ``rps``: requests per second; ``success_rate``: answered / requests (refusals included);
* ``compliance``: SLO met / eligible (see :mod:`.slo`), with its gauge ``colour``;
* ``goodput``: requests meeting their SLO per second;
* ``cost_per_success_usd``: cost of the window / answered requests;
* ``fallback_rate``: requests served (or failed) on another deployment than the first tried;
* ``cache_hit_rate``: cache hits / requests;
* ``top_tier_share`` (model utilization): answered on the most expensive tier / answered;
* ``latency``, ``ttft``, ``tpot``: p50, p95 and p99 in seconds (None without data).
"""

from __future__ import annotations

from typing import Any

from pointsman.observe.histogram import Histogram
from pointsman.observe.slo import colour, compliance, goodput
from pointsman.observe.window import Tally

QUANTILES = (("p50", 0.5), ("p95", 0.95), ("p99", 0.99))


def _ratio(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def percentiles(histogram: Histogram) -> dict[str, float | None]:
    return {name: histogram.quantile(q) for name, q in QUANTILES}


def kpis(tally: Tally, seconds: float) -> dict[str, Any]:
    """The window's key figures (ratios in 0..1, money in USD, times in seconds)."""
    seconds = max(seconds, 1.0)
    share = compliance(tally.met, tally.eligible)
    return {
        "requests": tally.requests,
        "rps": tally.requests / seconds,
        "success_rate": _ratio(tally.ok, tally.requests),
        "errors": tally.errors,
        "refusals": tally.refusals,
        "eligible": tally.eligible,
        "met": tally.met,
        "compliance": share,
        "colour": colour(share),
        "goodput": goodput(tally.met, seconds),
        "cost_usd": tally.cost / 1e6,
        "cost_usd_per_hour": tally.cost / 1e6 * 3600 / seconds,
        "cost_per_success_usd": tally.cost / 1e6 / tally.ok if tally.ok else None,
        "fallback_rate": _ratio(tally.fallbacks, tally.requests),
        "cache_hit_rate": _ratio(tally.cache_hits, tally.requests),
        "cache_saved_usd": tally.saved / 1e6,
        "top_tier_share": _ratio(tally.premium, tally.ok),
        "tokens_in": tally.tokens_in,
        "tokens_out": tally.tokens_out,
        "latency": percentiles(tally.latency),
        "ttft": percentiles(tally.ttft),
        "tpot": percentiles(tally.tpot),
    }
