"""``/metrics``: the process's telemetry in the Prometheus text format.

A custom collector builds every family at scrape time from :class:`~.aggregate.Telemetry`
(summing its series over the labels each metric keeps), the reliability engine's counters and
health board, and the budget watch: the request path never touches a prometheus-client object.
Names follow the OpenTelemetry GenAI semantic conventions where they define one (dots become
underscores, seconds get ``_seconds``); the rest are ``pointsman_*``. The full list, with
labels, is in ``docs/observability.md``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any, TypeVar

from prometheus_client import CollectorRegistry, ProcessCollector, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from pointsman.observe.aggregate import RequestSeries, Telemetry
from pointsman.observe.budgets import BudgetWatch
from pointsman.observe.histogram import Histogram
from pointsman.observe.kpis import QUANTILES, kpis
from pointsman.observe.settings import SloClass
from pointsman.observe.window import Tally
from pointsman.reliability.engine import Reliability

GENAI = ["gen_ai_operation_name", "gen_ai_system", "gen_ai_request_model", "gen_ai_response_model"]
BREAKER_STATES = ("closed", "open", "half_open", "rate_limited")
K = TypeVar("K", bound=tuple[str, ...])


def _histograms(
    pairs: Iterable[tuple[K, Histogram]],
) -> dict[K, Histogram]:
    merged: dict[K, Histogram] = {}
    for key, histogram in pairs:
        into = merged.get(key)
        if into is None:
            into = merged[key] = Histogram(histogram.bounds)
        into.add(histogram)
    return merged


def _histogram_family(
    name: str,
    doc: str,
    labels: list[str],
    merged: Mapping[tuple[str, ...], Histogram],
    unit: str = "",
) -> HistogramMetricFamily:
    family = HistogramMetricFamily(name, doc, labels=labels, unit=unit)
    for key, histogram in merged.items():
        if histogram.count:
            family.add_metric(list(key), histogram.cumulative(), histogram.sum)
    return family


def _sums(pairs: Iterable[tuple[tuple[str, ...], float]]) -> dict[tuple[str, ...], float]:
    sums: dict[tuple[str, ...], float] = {}
    for key, value in pairs:
        sums[key] = sums.get(key, 0) + value
    return sums


def _counter(
    name: str, doc: str, labels: list[str], sums: Mapping[tuple[str, ...], float]
) -> Metric:
    family = CounterMetricFamily(name, doc, labels=labels)
    for key, value in sums.items():
        family.add_metric(list(key), value)
    return family


class GatewayCollector(Collector):
    """Collects the families of one process (see the module docstring).

    Args:
        telemetry: the running totals.
        reliability: the engine whose counters and breakers are exposed (None: omitted).
        budgets: the budget watch (None when governance is off).
        targets: the SLO classes in force.
    """

    def __init__(
        self,
        telemetry: Telemetry,
        *,
        reliability: Reliability | None = None,
        budgets: BudgetWatch | None = None,
        targets: Callable[[], Mapping[str, SloClass]] = dict,
    ) -> None:
        self.telemetry = telemetry
        self.reliability = reliability
        self.budgets = budgets
        self.targets = targets

    def collect(self) -> Iterator[Metric]:
        items = list(self.telemetry.requests.items())
        yield from self._genai(items)
        yield from self._requests(items)
        yield from self._slo(items)
        yield from self._attempts()
        if self.reliability is not None:
            yield from self._reliability(self.reliability)
        if self.budgets is not None:
            yield from self._budgets(self.budgets.budgets)

    def _genai(self, items: list[tuple[tuple[Any, ...], RequestSeries]]) -> Iterator[Metric]:
        def genai(k: tuple[Any, ...]) -> tuple[str, str, str, str]:
            return (k[0], k[1], k[2], k[4])

        yield _histogram_family(
            "gen_ai_server_request_duration",
            "Time from the request reaching the gateway to its last byte (or its error).",
            [*GENAI, "error_type"],
            _histograms(((*genai(k), "" if k[5] < 400 else k[6]), s.duration) for k, s in items),
            unit="seconds",
        )
        yield _histogram_family(
            "gen_ai_server_time_to_first_token",
            "Time to the first token of successful streamed responses.",
            GENAI,
            _histograms((genai(k), s.ttft) for k, s in items),
            unit="seconds",
        )
        yield _histogram_family(
            "gen_ai_server_time_per_output_token",
            "Time per output token after the first, successful streamed responses.",
            GENAI,
            _histograms((genai(k), s.tpot) for k, s in items),
            unit="seconds",
        )
        tokens = [((*genai(k), "input"), s.tokens_in) for k, s in items]
        tokens += [((*genai(k), "output"), s.tokens_out) for k, s in items]
        yield _histogram_family(
            "gen_ai_client_token_usage",
            "Input and output tokens per successful request ({token}).",
            [*GENAI, "gen_ai_token_type"],
            _histograms(tokens),
        )
        attempts = self.telemetry.attempts.items()
        yield _histogram_family(
            "gen_ai_client_operation_duration",
            "Each call to an upstream deployment (a stream lasts to its last token).",
            [*GENAI, "error_type", "deployment"],
            _histograms(
                ((k[0], k[1], k[2], k[2], "" if k[4] == "ok" else k[4], k[3]), s.duration)
                for k, s in attempts
            ),
            unit="seconds",
        )

    def _requests(self, items: list[tuple[tuple[Any, ...], RequestSeries]]) -> Iterator[Metric]:
        telemetry = self.telemetry
        yield _counter(
            "pointsman_requests",
            "Requests by alias, deployment, HTTP status, error code and cache outcome.",
            ["alias", "deployment", "status", "code", "cache"],
            _sums(((k[2], k[3], str(k[5]), k[6], k[7]), s.count) for k, s in items),
        )
        yield _counter(
            "pointsman_cost_usd",
            "What answered requests cost, priced from the catalog, in USD.",
            ["alias", "deployment", "team"],
            _sums(((k[2], k[3], k[8]), s.cost / 1e6) for k, s in items if s.cost),
        )
        yield _counter(
            "pointsman_cache_saved_usd",
            "What cache hits would have cost upstream, in USD.",
            ["alias"],
            _sums(((k[2],), s.saved / 1e6) for k, s in items if s.saved),
        )
        yield _counter(
            "pointsman_refusals",
            "Requests refused before any upstream call, by error code "
            "(rate_limit_exceeded, budget_exceeded, invalid_api_key ...).",
            ["code"],
            {(code,): n for code, n in telemetry.refusals.items()},
        )
        yield GaugeMetricFamily(
            "pointsman_requests_in_flight",
            "Requests inside the pipeline now (streams until their last byte).",
            value=telemetry.inflight,
        )

    def _slo(self, items: list[tuple[tuple[Any, ...], RequestSeries]]) -> Iterator[Metric]:
        telemetry = self.telemetry
        met = [((k[2], k[9], "met"), s.met) for k, s in items if s.met]
        missed = [((k[2], k[9], "missed"), s.missed) for k, s in items if s.missed]
        yield _counter(
            "pointsman_slo_requests",
            "Eligible requests by whether they met their SLO (TTFT and TPOT targets).",
            ["alias", "slo_class", "result"],
            _sums([*met, *missed]),
        )
        yield _counter(
            "pointsman_goodput_requests",
            "Requests that met their SLO; rate() of it is goodput.",
            ["alias"],
            _sums(((k[2],), s.met) for k, s in items if s.met),
        )
        targets = GaugeMetricFamily(
            "pointsman_slo_target_seconds", "SLO targets per class.", labels=["slo_class", "kind"]
        )
        for name, target in self.targets().items():
            targets.add_metric([name, "ttft"], target.ttft_ms / 1000)
            targets.add_metric([name, "tpot"], target.tpot_ms / 1000)
        yield targets
        now = telemetry.clock()
        seconds = min(telemetry.window_seconds, now - telemetry.started)
        ratio = GaugeMetricFamily(
            "pointsman_slo_compliance_ratio",
            f"Share of eligible requests meeting their SLO over the last "
            f"{telemetry.window_seconds} s (green >= 0.95, yellow >= 0.90, red below).",
            labels=["alias"],
        )
        quantiles = GaugeMetricFamily(
            "pointsman_window_latency_seconds",
            "Request latency percentiles per alias over the window.",
            labels=["alias", "quantile"],
        )
        for alias, ring in list(telemetry.aliases.items()):
            figures = kpis(ring.total(now, Tally()), seconds)
            if figures["compliance"] is not None:
                ratio.add_metric([alias], figures["compliance"])
            for name, q in QUANTILES:
                value = figures["latency"][name]
                if value is not None:
                    quantiles.add_metric([alias, str(q)], value)
        yield ratio
        yield quantiles
        overall = kpis(telemetry.timeline.total(now, Tally()), min(seconds, 300))
        for name, key, doc in (
            ("pointsman_goodput_requests_per_second", "goodput", "Goodput, last 5 minutes."),
            ("pointsman_fallback_ratio", "fallback_rate", "Fallback share, last 5 minutes."),
            ("pointsman_cache_hit_ratio", "cache_hit_rate", "Cache hit share, last 5 minutes."),
            (
                "pointsman_top_tier_share_ratio",
                "top_tier_share",
                "Model utilization: share of answers on the most expensive tier, last 5 minutes.",
            ),
            (
                "pointsman_cost_per_success_usd",
                "cost_per_success_usd",
                "Cost per successful response, last 5 minutes.",
            ),
        ):
            if overall[key] is not None:
                yield GaugeMetricFamily(name, doc, value=overall[key])

    def _attempts(self) -> Iterator[Metric]:
        yield _counter(
            "pointsman_attempts",
            "Calls to (and skips of) deployments, by outcome: ok or the failure cause.",
            ["deployment", "outcome"],
            _sums(((k[3], k[4]), s.count) for k, s in self.telemetry.attempts.items()),
        )

    def _reliability(self, engine: Reliability) -> Iterator[Metric]:
        counters = engine.counters
        for name, values, doc in (
            ("pointsman_fallbacks", counters.fallbacks, "Moves to another deployment, by cause."),
            ("pointsman_retries", counters.retries, "Retries of the same deployment, by cause."),
            ("pointsman_deployment_skips", counters.skips, "Deployments passed over, by cause."),
            ("pointsman_redirects", counters.redirects, "Typed fallbacks to another alias."),
        ):
            yield _counter(name, doc, ["cause"], {(k,): v for k, v in values.items()})
        yield _counter(
            "pointsman_breaker_transitions",
            "Circuit breaker state changes.",
            ["transition"],
            {(k,): v for k, v in counters.breaker_transitions.items()},
        )
        for name, value, doc in (
            ("pointsman_midstream_failures", counters.midstream_failures, "Streams cut short."),
            ("pointsman_retry_budget_exhausted", counters.budget_exhausted, "Attempts refused."),
            ("pointsman_hedges_started", counters.hedges_started, "Hedged attempts started."),
            ("pointsman_hedges_won", counters.hedges_won, "Requests won by the hedge."),
        ):
            yield CounterMetricFamily(name, doc, value=value)
        state = GaugeMetricFamily(
            "pointsman_breaker_state",
            "1 for each deployment's current state (closed, open, half_open, rate_limited).",
            labels=["deployment", "state"],
        )
        errors = GaugeMetricFamily(
            "pointsman_deployment_error_ratio",
            "Failed share of calls in the breaker window.",
            labels=["deployment"],
        )
        latency = GaugeMetricFamily(
            "pointsman_deployment_latency_ewma_seconds",
            "Moving average of time to first byte.",
            labels=["deployment"],
        )
        for row in engine.board.snapshot():
            for name in BREAKER_STATES:
                state.add_metric([row["name"], name], 1.0 if row["state"] == name else 0.0)
            errors.add_metric([row["name"]], row["error_rate"])
            if row["latency_ewma_ms"] is not None:
                latency.add_metric([row["name"]], row["latency_ewma_ms"] / 1000)
        yield state
        yield errors
        yield latency

    def _budgets(self, rows: list[dict[str, Any]]) -> Iterator[Metric]:
        labels = ["scope", "subject", "period"]
        used = GaugeMetricFamily(
            "pointsman_budget_used_ratio", "(spent + reserved) / limit.", labels=labels
        )
        spent = GaugeMetricFamily("pointsman_budget_spent_usd", "Spent this period.", labels=labels)
        limit = GaugeMetricFamily(
            "pointsman_budget_limit_usd", "The budget's limit.", labels=labels
        )
        for row in rows:
            key = [row["scope"], row["subject"], row["period"]]
            used.add_metric(key, row["share"])
            spent.add_metric(key, row["spent_usd"])
            limit.add_metric(key, row["limit_usd"])
        yield used
        yield spent
        yield limit


def build_registry(collector: GatewayCollector) -> CollectorRegistry:
    """A private registry (no global state) with the gateway's and the process's metrics."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(collector)
    ProcessCollector(registry=registry)
    return registry


def render(registry: CollectorRegistry) -> bytes:
    """The text exposition of ``registry``."""
    return generate_latest(registry)
