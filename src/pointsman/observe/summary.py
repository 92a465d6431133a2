"""The dashboard's one JSON document: everything ``/ui`` draws, aggregated server-side.

:meth:`Summary.build` reads the process's :class:`~.aggregate.Telemetry` (its per-second
timeline and per-alias, team and deployment windows), the reliability engine's health board and
the budget watch, and returns a compact document (a few tens of kB) that the page polls once a
second. Cost stays flat under load: the timeline's past seconds are summarised once and
memoised, so a poll summarises one second of traffic plus the windows; and a built document is
reused for ``max_age`` seconds, however many dashboards are open.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from pointsman.observe.aggregate import TIMELINE_SECONDS, Telemetry
from pointsman.observe.budgets import BudgetWatch
from pointsman.observe.kpis import kpis
from pointsman.observe.settings import SloSettings
from pointsman.observe.window import Spend, Tally
from pointsman.reliability.engine import Reliability

MAX_ROWS = 8  # teams and models listed by cost
MAX_EVENTS = 30
MIN_TIMELINE = 60  # seconds the charts span at least (a young gateway's are shorter than 5 min)


def _r(value: float | None, digits: int = 4) -> float | None:
    return None if value is None else round(value, digits)


def _second(period: int, tally: Tally | None) -> list[Any]:
    """One timeline row: t, requests, ok, errors, refusals, met, cost (USD), then TTFT and TPOT
    p50/p95/p99 and latency p50/p99 in milliseconds (null without data)."""
    if tally is None:
        return [period, 0, 0, 0, 0, 0, 0.0, *([None] * 8)]

    def ms(value: float | None) -> float | None:
        return None if value is None else round(value * 1000, 2)

    return [
        period,
        tally.requests,
        tally.ok,
        tally.errors,
        tally.refusals,
        tally.met,
        round(tally.cost / 1e6, 6),
        *(ms(tally.ttft.quantile(q)) for q in (0.5, 0.95, 0.99)),
        *(ms(tally.tpot.quantile(q)) for q in (0.5, 0.95, 0.99)),
        ms(tally.latency.quantile(0.5)),
        ms(tally.latency.quantile(0.99)),
    ]


TIMELINE_COLUMNS = [
    "t",
    "requests",
    "ok",
    "errors",
    "refusals",
    "met",
    "cost_usd",
    "ttft_p50_ms",
    "ttft_p95_ms",
    "ttft_p99_ms",
    "tpot_p50_ms",
    "tpot_p95_ms",
    "tpot_p99_ms",
    "latency_p50_ms",
    "latency_p99_ms",
]


class Summary:
    """Builds (and briefly reuses) the dashboard document.

    Args:
        telemetry: the running totals.
        reliability: the engine whose health board is shown (None: no deployment health).
        budgets: the budget watch (None when governance is off).
        view: returns the live config's SLO settings and ``{deployment: tier}``.
        max_age: seconds a built document is served again.
    """

    def __init__(
        self,
        telemetry: Telemetry,
        *,
        reliability: Reliability | None,
        budgets: BudgetWatch | None,
        view: Callable[[], tuple[SloSettings, Mapping[str, str]]],
        max_age: float = 0.5,
    ) -> None:
        self.telemetry = telemetry
        self.reliability = reliability
        self.budgets = budgets
        self.view = view
        self.max_age = max_age
        self._rows: dict[int, list[Any]] = {}
        self._built: tuple[float, dict[str, Any]] | None = None

    def build(self) -> dict[str, Any]:
        """The document (see ``docs/observability.md`` for its fields)."""
        telemetry = self.telemetry
        now = telemetry.clock()
        if self._built is not None and now - self._built[0] < self.max_age:
            return self._built[1]
        slo, tiers = self.view()
        window = min(telemetry.window_seconds, max(now - telemetry.started, 1.0))
        recent = min(float(TIMELINE_SECONDS), window)
        overall = kpis(telemetry.timeline.total(now, Tally()), recent)
        models = self._spend(telemetry.models, now, window)
        names = self.budgets.names if self.budgets is not None else {}
        teams = self._spend(telemetry.teams, now, window)[:MAX_ROWS]
        for row in teams:
            row["label"] = names.get(row["name"], row["name"])
        document = {
            "now": round(now, 3),
            "uptime_s": round(now - telemetry.started, 1),
            "window_s": telemetry.window_seconds,
            "inflight": telemetry.inflight,
            "overall": _rounded(overall),
            "timeline": {
                "columns": TIMELINE_COLUMNS,
                "rows": self._timeline(now)[-max(MIN_TIMELINE, int(now - telemetry.started) + 1) :],
            },
            "slo": {
                "default_class": slo.default_class,
                "classes": {
                    name: {"ttft_ms": c.ttft_ms, "tpot_ms": c.tpot_ms}
                    for name, c in slo.targets().items()
                },
            },
            "aliases": self._aliases(now, window, slo),
            "teams": teams,
            "models": models[:MAX_ROWS],
            "tiers": self._tiers(models, tiers, telemetry.top_tier),
            "budgets": list(self.budgets.budgets) if self.budgets is not None else None,
            "deployments": self._deployments(models, tiers),
            "events": _named(list(telemetry.events)[-MAX_EVENTS:][::-1], names),
            "refusals": _named(list(telemetry.refused)[-MAX_EVENTS:][::-1], names),
        }
        self._built = (now, document)
        return document

    def _timeline(self, now: float) -> list[list[Any]]:
        current = int(now)
        rows = []
        memo = self._rows
        for period, tally in self.telemetry.timeline.periods(now):
            row = memo.get(period) if period < current else None
            if row is None:
                row = _second(period, tally)
                if period < current:
                    memo[period] = row
            rows.append(row)
        oldest = current - TIMELINE_SECONDS
        for period in [p for p in memo if p <= oldest]:
            del memo[period]
        return rows

    def _aliases(self, now: float, window: float, slo: SloSettings) -> list[dict[str, Any]]:
        targets = slo.targets()
        rows = []
        for alias, ring in sorted(self.telemetry.aliases.items()):
            figures = kpis(ring.total(now, Tally()), window)
            name = slo.class_of(alias)
            target = targets.get(name)
            rows.append(
                {
                    "alias": alias,
                    "slo_class": name,
                    "ttft_target_ms": target.ttft_ms if target else None,
                    "tpot_target_ms": target.tpot_ms if target else None,
                    **_rounded(figures),
                }
            )
        return rows

    def _spend(self, rings: Mapping[str, Any], now: float, window: float) -> list[dict[str, Any]]:
        rows = []
        for name, ring in list(rings.items()):
            spend: Spend = ring.total(now, Spend())
            if spend.requests:
                rows.append(
                    {
                        "name": name,
                        "requests": spend.requests,
                        "cost_usd": round(spend.cost / 1e6, 6),
                        "usd_per_hour": round(spend.cost / 1e6 * 3600 / window, 4),
                    }
                )
        return sorted(rows, key=lambda row: (-row["cost_usd"], -row["requests"]))

    @staticmethod
    def _tiers(
        models: list[dict[str, Any]], tiers: Mapping[str, str], top: str
    ) -> list[dict[str, Any]]:
        counts: dict[str, int] = {}
        for row in models:
            tier = tiers.get(row["name"], "cache" if row["name"] == "(cache)" else "other")
            counts[tier] = counts.get(tier, 0) + row["requests"]
        total = sum(counts.values())
        return [
            {"tier": tier, "requests": n, "share": round(n / total, 4), "top": tier == top}
            for tier, n in sorted(counts.items(), key=lambda item: -item[1])
        ]

    def _deployments(
        self, models: list[dict[str, Any]], tiers: Mapping[str, str]
    ) -> list[dict[str, Any]]:
        if self.reliability is None:
            return []
        traffic = {row["name"]: row for row in models}
        rows = []
        for state in self.reliability.board.snapshot():
            name = state["name"]
            seen = traffic.get(name, {})
            rows.append(
                {
                    "name": name,
                    "state": state["state"],
                    "error_rate": state["error_rate"],
                    "latency_ms": state["latency_ewma_ms"],
                    "calls": state["calls"],
                    "failures": state["failures"],
                    "last_error": state["last_error"],
                    "tier": tiers.get(name),
                    "requests": seen.get("requests", 0),
                    "usd_per_hour": seen.get("usd_per_hour", 0.0),
                }
            )
        return rows


def _named(events: list[dict[str, Any]], names: Mapping[str, str]) -> list[dict[str, Any]]:
    """The events with their team's name beside its id (copies: the deque keeps ids)."""
    return [{**e, "team_name": names.get(e["team"], e["team"])} if e["team"] else e for e in events]


def _rounded(figures: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in figures.items():
        if isinstance(value, dict):
            out[key] = {k: _r(v, 5) for k, v in value.items()}
        elif isinstance(value, float):
            out[key] = round(value, 6)
        else:
            out[key] = value
    return out
