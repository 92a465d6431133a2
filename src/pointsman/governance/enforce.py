"""The pipeline stages that enforce rate limits and budgets (see ``core/pipeline.py``).

Place them after routing has produced candidates (so cost estimates can price them) and before
dispatch::

    Authenticate → Resolve → RateLimits → Budgets → Dispatcher

Both stages charge in ``on_request`` and settle in ``on_complete``, which the pipeline runs
exactly once for every stage whose ``on_request`` ran, whatever happened. Costs are integer
micro-USD from callables supplied by the cost module: ``estimate_cost(ctx)`` must be a worst case
for every candidate (the budget guarantee rests on it); ``actual_cost(ctx)`` prices ``ctx.usage``
and ``ctx.deployment`` after the fact (0 when nothing was served).

Who pays: org, team and key from ``ctx.caller``; the user pinned to the key, else the request's
``user`` field; the feature from the ``x-pointsman-feature`` header or ``metadata.feature``.

When the shared state is unreachable the stages fail closed (503 ``state_unavailable``) unless
built with ``fail_open=True``, which serves the request unmetered and logs it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from pointsman.core.pipeline import RequestContext, Stage
from pointsman.core.tokens import estimate_prompt_tokens, estimate_text_tokens
from pointsman.errors import ServiceUnavailableError
from pointsman.governance.budgets import (
    BudgetAlert,
    BudgetLedger,
    Reservation,
    Settlement,
    Subjects,
)
from pointsman.governance.limits import RateLimiter, Ticket
from pointsman.state.base import StateUnavailableError

log = logging.getLogger("pointsman.governance")

CostFn = Callable[[RequestContext], int]
FEATURE_HEADER = "x-pointsman-feature"
_SUBJECTS = "governance.subjects"  # memo on ctx.notes, keyed by the caller it was made for


def subjects_of(ctx: RequestContext) -> Subjects:
    """Who this request is charged to.

    A user pinned to the key (``caller.user_id``) wins over the request's ``user`` field: that
    field and the feature are declared by the client, so budgets on them bind honest clients
    only, unless the key pins them.
    """
    caller = ctx.caller
    cached = ctx.notes.get(_SUBJECTS)
    if cached is not None and cached[0] is caller:  # downgrade, limits, budgets, accounting
        return cached[1]  # type: ignore[no-any-return]
    user = getattr(caller, "user_id", None)
    if user is None:
        user = ctx.chat.user if ctx.chat else ctx.embedding.user if ctx.embedding else None
    feature = ctx.headers.get(FEATURE_HEADER)
    if feature is None and ctx.chat is not None and ctx.chat.metadata:
        feature = ctx.chat.metadata.get("feature")
    subjects = Subjects(
        org=getattr(caller, "org_id", None),
        team=getattr(caller, "team_id", None),
        key=caller.key_id if caller is not None else None,
        user=user or None,
        feature=feature or None,
    )
    ctx.notes[_SUBJECTS] = (caller, subjects)
    return subjects


def estimate_tokens(ctx: RequestContext) -> int:
    """Tokens a request may use: its prompt estimate plus its output cap (0 when uncapped)."""
    if ctx.chat is not None:
        prompt = estimate_prompt_tokens(ctx.chat.messages, ctx.chat.tools)
        return prompt + (ctx.chat.output_limit or 0)
    if ctx.embedding is not None:
        given = ctx.embedding.input
        texts = [given] if isinstance(given, str) else given
        return sum(estimate_text_tokens(t) if isinstance(t, str) else 1 for t in texts)
    return 0


def actual_tokens(ctx: RequestContext) -> int:
    return ctx.usage.total_tokens if ctx.usage is not None else 0


def _unavailable(stage: str, error: StateUnavailableError) -> ServiceUnavailableError:
    log.error("%s: shared state unavailable, refusing the request: %s", stage, error)
    return ServiceUnavailableError(
        "Rate limits and budgets cannot be checked right now; retry shortly",
        code="state_unavailable",
        headers={"Retry-After": "1"},
    )


class RateLimits(Stage):
    """Admits the request against RPM, TPM, concurrency and the cost bucket; settles actuals."""

    name = "rate_limits"

    def __init__(
        self,
        limiter: RateLimiter,
        *,
        estimate_cost: CostFn | None = None,
        actual_cost: CostFn | None = None,
        tokens: CostFn = estimate_tokens,
        fail_open: bool = False,
    ) -> None:
        self.limiter = limiter
        self.estimate_cost = estimate_cost
        self.actual_cost = actual_cost
        self.tokens = tokens
        self.fail_open = fail_open

    async def on_request(self, ctx: RequestContext) -> None:
        who = subjects_of(ctx)
        cost = self.estimate_cost(ctx) if self.estimate_cost is not None else 0
        try:
            ticket = await self.limiter.admit(
                key=who.key,
                team=who.team,
                model=ctx.alias or None,
                tokens=self.tokens(ctx),
                cost=cost,
            )
        except StateUnavailableError as error:
            if self.fail_open:
                log.warning("rate limits skipped (fail_open): %s", error)
                return
            raise _unavailable(self.name, error) from error
        ctx.notes[self.name] = ticket
        ctx.response_headers.update(ticket.headers())

    async def on_complete(self, ctx: RequestContext) -> None:
        ticket = ctx.notes.get(self.name)
        if not isinstance(ticket, Ticket):
            return
        try:
            cost = self.actual_cost(ctx) if self.actual_cost is not None else 0
            await self.limiter.settle(ticket, tokens=actual_tokens(ctx), cost=cost)
        except Exception:  # must not raise; the leases lapse on their own
            log.exception("rate limits: settling request %s failed", ctx.request_id)


@dataclass(slots=True)
class BudgetNote:
    """What the budgets stage leaves in ``ctx.notes["budgets"]``."""

    reservation: Reservation
    settlement: Settlement | None = None


class Budgets(Stage):
    """Reserves the worst-case cost on every applicable budget; settles the actual cost."""

    name = "budgets"

    def __init__(
        self,
        ledger: BudgetLedger,
        estimate_cost: CostFn,
        actual_cost: CostFn,
        *,
        on_alert: Callable[[BudgetAlert], None] | None = None,
        fail_open: bool = False,
    ) -> None:
        self.ledger = ledger
        self.estimate_cost = estimate_cost
        self.actual_cost = actual_cost
        self.on_alert = on_alert
        self.fail_open = fail_open

    async def on_request(self, ctx: RequestContext) -> None:
        try:
            reservation = await self.ledger.reserve(subjects_of(ctx), self.estimate_cost(ctx))
        except StateUnavailableError as error:
            if self.fail_open:
                log.warning("budgets skipped (fail_open): %s", error)
                return
            raise _unavailable(self.name, error) from error
        ctx.notes[self.name] = BudgetNote(reservation)

    async def on_complete(self, ctx: RequestContext) -> None:
        note = ctx.notes.get(self.name)
        if not isinstance(note, BudgetNote):
            return
        try:
            note.settlement = await self.ledger.settle(note.reservation, self.actual_cost(ctx))
        except Exception:  # must not raise; the hold lapses after the reservation TTL
            log.exception("budgets: settling request %s failed", ctx.request_id)
            return
        for alert in note.settlement.alerts:
            log.warning(
                "budget alert: %s reached %d%% (%d of %d micro-USD, period %s)",
                alert.budget,
                alert.percent,
                alert.spent,
                alert.limit,
                alert.period,
            )
            if self.on_alert is not None:
                self.on_alert(alert)
