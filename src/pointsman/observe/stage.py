"""The ``observe`` pipeline stage: first in, last out, sees every request's outcome.

It runs first, so its ``on_complete`` runs last (hooks complete in reverse) and exactly once
for every request that entered the pipeline: successes, upstream failures, client
disconnects, and refusals by authentication, rate limits and budgets. By then accounting has
priced the request and the attempt loop has recorded every call. Each config snapshot gets its
own stage (its SLO targets, tiers and prices); they all feed the process's one
:class:`~.aggregate.Telemetry`, so totals survive reloads.

Cost on the request path: ``on_request`` bumps the in-flight count and sets the request-id
context variable; ``on_complete`` flattens the context once and adds it to the aggregates
(a few microseconds), then writes the request log line and spans when those are on.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pointsman.core.pipeline import RequestContext, Stage
from pointsman.observe.aggregate import Telemetry
from pointsman.observe.budgets import BudgetWatch
from pointsman.observe.logs import REQUEST_ID, RequestLog, body_text, requests_log
from pointsman.observe.outcome import Outcome, PriceFn, read_outcome
from pointsman.observe.settings import LoggingSettings
from pointsman.observe.slo import Target

if TYPE_CHECKING:
    from pointsman.observe.tracing import Tracer

log = logging.getLogger("pointsman.observe")
UNKNOWN_ALIAS = "(unknown)"


@dataclass(frozen=True, slots=True)
class SnapshotView:
    """What one config snapshot tells the stage: SLOs per alias, tiers and upstream protocols
    per deployment, and how to price usage when no accounting stage did."""

    slo: Mapping[str, tuple[Target, str]]
    default_slo: tuple[Target, str]
    tiers: Mapping[str, str]
    systems: Mapping[str, str]
    price: PriceFn | None = None


class Observe(Stage):
    name = "observe"

    def __init__(
        self,
        telemetry: Telemetry,
        view: SnapshotView,
        logging_settings: LoggingSettings,
        *,
        tracer: Tracer | None = None,
        budgets: BudgetWatch | None = None,
        request_log: RequestLog | None = None,
    ) -> None:
        self.telemetry = telemetry
        self.view = view
        self.logging = logging_settings
        self.tracer = tracer
        self.budgets = budgets
        self.request_log = request_log or RequestLog()

    async def on_request(self, ctx: RequestContext) -> None:
        self.telemetry.inflight += 1
        REQUEST_ID.set(ctx.request_id)

    async def on_complete(self, ctx: RequestContext) -> None:
        self.telemetry.inflight -= 1
        try:
            self.record(ctx)
        except Exception:  # observing must never fail a request
            log.exception("observe: could not record request %s", ctx.request_id)

    def record(self, ctx: RequestContext) -> Outcome:
        view = self.view
        known = view.slo.get(ctx.alias)
        target, slo_class = known or view.default_slo
        out = read_outcome(
            ctx,
            target=target,
            slo_class=slo_class,
            tiers=view.tiers,
            systems=view.systems,
            price=view.price,
        )
        if known is None:  # clients choose model names: never let them mint label values
            out.alias = UNKNOWN_ALIAS
        self.telemetry.record(out)
        caller = ctx.caller
        if self.budgets is not None and caller is not None:
            self.budgets.seen(caller.org_id, caller.team_id, caller.key_id)
        if self.tracer is not None:
            self.tracer.record(ctx, out)
        if self.logging.requests and requests_log.isEnabledFor(logging.INFO):
            self.request_log.write(self.fields(ctx, out), out.request_id)
        return out

    def fields(self, ctx: RequestContext, out: Outcome) -> dict[str, Any]:
        """The request log line's fields (bodies only when both switches allow them)."""
        fields: dict[str, Any] = {
            "event": "request",
            "kind": out.kind,
            "alias": out.alias,
            "deployment": out.deployment or None,
            "status": out.status,
            "code": out.code,
            "cache": out.cache,
            "stream": out.streamed,
            "latency_ms": round(out.latency * 1000, 2),
            "ttft_ms": None if out.ttft is None else round(out.ttft * 1000, 2),
            "tpot_ms": None if out.tpot is None else round(out.tpot * 1000, 3),
            "input_tokens": out.input_tokens,
            "output_tokens": out.output_tokens,
            "cost_usd": out.cost / 1e6,
            "attempts": out.attempts,
            "fallback": out.fallback,
            "slo": ("met" if out.met else "missed") if out.eligible else "n/a",
            "org": out.org or None,
            "team": out.team or None,
            "key": out.key or None,
        }
        if out.failures:
            fields["failures"] = [f"{d}: {c}" for d, c in out.failures]
        caller = ctx.caller
        if self.logging.log_bodies and caller is not None and caller.log_bodies:
            fields["request_body"] = body_text(ctx.body)
            body = getattr(ctx.result, "body", None)
            if isinstance(body, bytes | bytearray):
                fields["response_body"] = body_text(body)
        return fields
