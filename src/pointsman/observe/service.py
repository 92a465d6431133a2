"""Observability for one gateway process: telemetry, metrics, traces, logs and the dashboard.

An :class:`Observability` lives as long as the process (like governance and the reliability
engine): a config reload keeps its totals, windows and events. Each config snapshot asks it for
its pipeline stage (:meth:`stage`), which carries that snapshot's SLO targets, tiers and prices
and feeds the shared :class:`~.aggregate.Telemetry`. The runtime calls :meth:`configure` once a
new snapshot is live, and :meth:`start` / :meth:`stop` from the app's lifespan (logging set-up,
the budget watch, flushing traces).

Tracing is set up once, at start-up: changing ``observe.tracing`` takes a restart (a reload
logs that it was not applied).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from pointsman.config import Config
from pointsman.core.pipeline import RequestContext
from pointsman.errors import ConfigError
from pointsman.governance.accounting import Pricing
from pointsman.governance.catalog import Catalog
from pointsman.observe.aggregate import Telemetry
from pointsman.observe.budgets import BudgetWatch
from pointsman.observe.exposition import GatewayCollector, build_registry, render
from pointsman.observe.logs import RequestLog, configure_logging
from pointsman.observe.outcome import PriceFn
from pointsman.observe.settings import SloSettings
from pointsman.observe.slo import Target
from pointsman.observe.stage import Observe, SnapshotView
from pointsman.observe.summary import Summary
from pointsman.observe.tiers import assign_tiers
from pointsman.reliability.engine import Reliability
from pointsman.routing.table import RouteTable

if TYPE_CHECKING:
    from opentelemetry.sdk.trace.export import SpanExporter

    from pointsman.governance.service import Governance
    from pointsman.observe.tracing import Tracer


def _tracer(settings: Any, exporter: SpanExporter | None) -> Tracer:
    """The OpenTelemetry SDK loads only when tracing is on (it is off by default)."""
    from pointsman.observe.tracing import Tracer

    return Tracer(settings, exporter, batch=exporter is None)


log = logging.getLogger("pointsman.observe")
MEMO_SIZE = 4096


def snapshot_view(config: Config, routes: RouteTable) -> tuple[SnapshotView, str]:
    """A snapshot's SLOs per alias, tiers and protocols per deployment, and pricing; with the
    name of its top (most expensive) tier."""
    slo = config.observe.slo
    classes = slo.targets()

    def target(name: str) -> tuple[Target, str]:
        spec = classes[name]
        return Target.from_ms(spec.ttft_ms, spec.tpot_ms), name

    deployments = {d.name: d for chain in routes.aliases.values() for d in chain}
    try:
        pricing: Pricing | None = Pricing(Catalog.load(overrides=config.catalog or None))
    except ConfigError:  # governance reports a bad catalog; observe just goes without prices
        pricing = None
    info = pricing.info if pricing is not None else (lambda _: None)
    tiers, top = assign_tiers(deployments.values(), info, config.observe.tiers)
    view = SnapshotView(
        slo={alias: target(slo.class_of(alias)) for alias in routes.aliases},
        default_slo=target(slo.default_class),
        tiers=tiers,
        systems={name: d.provider.protocol for name, d in deployments.items()},
        price=_memoised(pricing) if pricing is not None else None,
    )
    return view, top


def _memoised(pricing: Pricing) -> PriceFn:
    """``pricing.actual`` remembered per (deployment, usage): exact Decimal pricing costs ~10 us,
    and answers of one deployment repeat the same token counts often. Bounded; cleared when full.
    Only used when no accounting stage (governance off) priced the request."""
    memo: dict[tuple[str, int, int, int, int, int], int] = {}

    def price(ctx: RequestContext) -> int:
        usage, deployment = ctx.usage, ctx.deployment
        if usage is None or deployment is None:
            return 0
        key = (
            deployment.name,
            usage.prompt_tokens,
            usage.completion_tokens,
            usage.cached_tokens,
            usage.cache_write_tokens,
            usage.reasoning_tokens,
        )
        cost = memo.get(key)
        if cost is None:
            if len(memo) >= MEMO_SIZE:
                memo.clear()
            cost = memo[key] = pricing.actual(ctx)
        return cost

    return price


class Observability:
    """See the module docstring.

    Args:
        config: the first config snapshot.
        governance: the process's governance (budget use is shown when given).
        reliability: the process's reliability engine (breakers, attempt counters).
        span_exporter: where spans go instead of the configured OTLP collector (tests);
            exported synchronously.
        clock: wall-clock seconds (injectable for tests).
    """

    def __init__(
        self,
        config: Config,
        governance: Governance | None = None,
        reliability: Reliability | None = None,
        *,
        span_exporter: SpanExporter | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        settings = config.observe
        self.config = config
        self.telemetry = Telemetry(settings.slo.window_seconds, clock)
        self.reliability = reliability
        self.budgets = (
            BudgetWatch(governance.ledger, governance.key_store) if governance is not None else None
        )
        tracing = settings.tracing
        self.tracer = _tracer(tracing, span_exporter) if tracing.enabled else None
        self.tiers: Mapping[str, str] = {}
        self._staged: tuple[Config, Mapping[str, str], str] | None = None
        collector = GatewayCollector(
            self.telemetry,
            reliability=reliability,
            budgets=self.budgets,
            targets=lambda: self.config.observe.slo.targets(),
        )
        self.registry = build_registry(collector)
        self.summary = Summary(
            self.telemetry, reliability=reliability, budgets=self.budgets, view=self._view
        )
        self._undo_logging: Callable[[], None] | None = None
        self.request_log = RequestLog()

    def _view(self) -> tuple[SloSettings, Mapping[str, str]]:
        return self.config.observe.slo, self.tiers

    def stage(self, config: Config, routes: RouteTable) -> Observe:
        """The observe stage of one config snapshot."""
        view, top = snapshot_view(config, routes)
        self._staged = (config, view.tiers, top)
        if not self.tiers:  # the first snapshot is live as soon as it is built
            self._adopt(config, view.tiers, top)
        return Observe(
            self.telemetry,
            view,
            config.logging,
            tracer=self.tracer,
            budgets=self.budgets,
            request_log=self.request_log,
        )

    def _adopt(self, config: Config, tiers: Mapping[str, str], top: str) -> None:
        self.config = config
        self.tiers = tiers
        self.telemetry.top_tier = top
        self.telemetry.resize(config.observe.slo.window_seconds)

    def configure(self, config: Config) -> None:
        """A reloaded snapshot is live: adopt its SLO window, tiers and logging settings."""
        previous = self.config
        staged = self._staged
        if staged is not None and staged[0] is config:
            self._adopt(config, staged[1], staged[2])
        else:
            self.config = config
        if config.observe.tracing != previous.observe.tracing:
            log.warning("observe.tracing changed: restart the gateway to apply it")
        if self._undo_logging is not None and config.logging != previous.logging:
            self._undo_logging()
            self._configure_logging(config)

    def _configure_logging(self, config: Config) -> None:
        self._undo_logging, self.request_log.writer = configure_logging(config.logging)

    async def start(self) -> None:
        self._configure_logging(self.config)
        if self.budgets is not None:
            self.budgets.start()

    async def stop(self) -> None:
        if self.budgets is not None:
            await self.budgets.stop()
        if self.tracer is not None:
            self.tracer.shutdown()
        if self._undo_logging is not None:
            self._undo_logging()
            self._undo_logging = None
            self.request_log.writer = None

    def metrics(self) -> bytes:
        """The Prometheus text exposition."""
        return render(self.registry)

    def dashboard(self) -> dict[str, Any]:
        """The dashboard document (see :mod:`.summary`)."""
        return self.summary.build()
