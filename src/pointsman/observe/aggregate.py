"""The process's running totals: every :class:`~.outcome.Outcome` is added here, once.

:class:`Telemetry` keeps two kinds of aggregate, both bounded by configuration, never by
traffic:

* **Monotonic series** for Prometheus (:mod:`.exposition`): one :class:`RequestSeries` per
  combination of labels a request can have (operation, system, alias, deployment, status,
  error code, cache outcome, team, SLO class, tier), holding its counters and GenAI histograms;
  one :class:`AttemptSeries` per (deployment, attempt outcome). A request costs one dictionary
  lookup and a few additions; the exposition sums series over the labels each metric drops.
* **Sliding windows** for the dashboard and the SLO gauges (:mod:`.window`): a per-second
  timeline of the last five minutes, and per alias, team and deployment windows of
  ``window_seconds``.

Plus the most recent fallback and failure events, and refusals (two bounded deques). One event loop
owns a Telemetry; nothing here locks or awaits.
"""

from __future__ import annotations

import time
from collections import Counter, deque
from collections.abc import Callable
from typing import Any

from pointsman.observe.histogram import DURATION, TOKENS, TPOT, TTFT, Histogram
from pointsman.observe.outcome import Outcome
from pointsman.observe.window import Ring, Spend, Tally

TIMELINE_SECONDS = 300
WINDOW_SLOTS = 30
MAX_EVENTS = 100
MAX_SUBJECTS = 1000  # distinct teams (or deployments) kept apart; the rest count as "other"
OTHER = "other"

# (operation, system, alias, deployment, model, status, code, cache, team, slo_class, tier)
RequestKey = tuple[str, str, str, str, str, int, str, str, str, str, str]
# (operation, system, model, deployment, outcome)
AttemptKey = tuple[str, str, str, str, str]


class RequestSeries:
    """Everything counted for requests sharing one set of labels."""

    __slots__ = (
        "cost",
        "count",
        "duration",
        "met",
        "missed",
        "saved",
        "tokens_in",
        "tokens_out",
        "tpot",
        "ttft",
    )

    def __init__(self) -> None:
        self.count = self.cost = self.saved = self.met = self.missed = 0
        self.duration = Histogram(DURATION)
        self.ttft = Histogram(TTFT)
        self.tpot = Histogram(TPOT)
        self.tokens_in = Histogram(TOKENS)
        self.tokens_out = Histogram(TOKENS)


class AttemptSeries:
    __slots__ = ("count", "duration")

    def __init__(self) -> None:
        self.count = 0
        self.duration = Histogram(DURATION)


class Telemetry:
    """Running totals and windows; see the module docstring.

    Args:
        window_seconds: the sliding window of SLO compliance, percentiles and KPIs.
        clock: wall-clock seconds (injectable for tests).
    """

    def __init__(self, window_seconds: int = 300, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock
        self.started = clock()
        self.window_seconds = window_seconds
        self.requests: dict[RequestKey, RequestSeries] = {}
        self.attempts: dict[AttemptKey, AttemptSeries] = {}
        self.refusals: Counter[str] = Counter()
        self.timeline: Ring[Tally] = Ring(TIMELINE_SECONDS, 1.0, Tally)
        self.aliases: dict[str, Ring[Tally]] = {}
        self.teams: dict[str, Ring[Spend]] = {}
        self.models: dict[str, Ring[Spend]] = {}
        self.events: deque[dict[str, Any]] = deque(maxlen=MAX_EVENTS)  # fallbacks, failures
        self.refused: deque[dict[str, Any]] = deque(maxlen=MAX_EVENTS)  # refusals
        self.inflight = 0
        self.top_tier = "premium"  # the most expensive tier of the live config

    def resize(self, window_seconds: int) -> None:
        """Adopt a new window length (a config reload); windows start afresh."""
        if window_seconds != self.window_seconds:
            self.window_seconds = window_seconds
            self.aliases.clear()
            self.teams.clear()
            self.models.clear()

    def _ring(self, rings: dict[str, Ring[Any]], name: str, factory: Callable[[], Any]) -> Any:
        ring = rings.get(name)
        if ring is None:
            if len(rings) >= MAX_SUBJECTS and name != OTHER:
                return self._ring(rings, OTHER, factory)
            width = self.window_seconds / WINDOW_SLOTS
            ring = rings[name] = Ring(WINDOW_SLOTS, width, factory)
        return ring

    def record(self, out: Outcome) -> None:
        """Add one finished request to every total and window."""
        now = self.clock()
        key: RequestKey = (
            out.kind,
            out.system,
            out.alias,
            out.deployment,
            out.model,
            out.status,
            out.code,
            out.cache,
            out.team,
            out.slo_class,
            out.tier,
        )
        series = self.requests.get(key)
        if series is None:
            series = self.requests[key] = RequestSeries()
        series.count += 1
        series.cost += out.cost
        series.saved += out.saved
        series.duration.observe(out.latency)
        ok = out.status < 400
        if ok:
            if out.ttft is not None:
                series.ttft.observe(out.ttft)
            if out.tpot is not None:
                series.tpot.observe(out.tpot)
            if out.deployment:
                series.tokens_in.observe(out.input_tokens)
                series.tokens_out.observe(out.output_tokens)
        if out.eligible:
            if out.met:
                series.met += 1
            else:
                series.missed += 1
        if out.calls:
            self._attempts(out)
        elif not ok:
            self.refusals[out.code] += 1
        self._tally(self.timeline.at(now), out, ok)
        if out.alias:
            self._tally(self._ring(self.aliases, out.alias, Tally).at(now), out, ok)
        if out.cost or out.deployment:
            spend = self._ring(self.teams, out.team or "(no team)", Spend).at(now)
            spend.requests += 1
            spend.cost += out.cost
            spend = self._ring(self.models, out.deployment or "(cache)", Spend).at(now)
            spend.requests += 1
            spend.cost += out.cost
        if out.failures or not ok:
            self._event(out)

    def _tally(self, tally: Tally, out: Outcome, ok: bool) -> None:
        tally.requests += 1
        tally.latency.observe(out.latency)
        if ok:
            tally.ok += 1
            tally.cost += out.cost
            tally.tokens_in += out.input_tokens
            tally.tokens_out += out.output_tokens
            if out.ttft is not None:
                tally.ttft.observe(out.ttft)
            if out.tpot is not None:
                tally.tpot.observe(out.tpot)
            if out.tier == self.top_tier:
                tally.premium += 1
        elif out.attempts:
            tally.errors += 1
        else:
            tally.refusals += 1
        if out.eligible:
            tally.eligible += 1
            tally.met += out.met
        tally.fallbacks += out.fallback
        if out.cache == "hit":
            tally.cache_hits += 1
            tally.saved += out.saved

    def _attempts(self, out: Outcome) -> None:
        kind = out.kind
        for deployment, system, outcome, took in out.calls:
            key: AttemptKey = (kind, system, deployment.partition("/")[2], deployment, outcome)
            series = self.attempts.get(key)
            if series is None:
                series = self.attempts[key] = AttemptSeries()
            series.count += 1
            if took is not None:
                series.duration.observe(took)

    def _event(self, out: Outcome) -> None:
        if out.fallback or out.failures:
            kind = "fallback" if out.fallback and out.status < 400 else "failure"
            first = out.failures[0] if out.failures else ("", "")
            event: dict[str, Any] = {
                "kind": kind,
                "from": first[0],
                "to": out.deployment or None,
                "cause": first[1],
                "causes": [f"{d}: {c}" for d, c in out.failures[:5]],
            }
        else:
            event = {"kind": "refusal", "cause": out.code}
        event.update(
            at=round(out.at, 3),
            request_id=out.request_id,
            alias=out.alias,
            status=out.status,
            team=out.team or None,
            message=out.message[:240],
        )
        (self.events if event["kind"] != "refusal" else self.refused).append(event)
