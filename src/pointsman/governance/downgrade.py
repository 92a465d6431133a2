"""Budget downgrades: above a share of a budget, send the request to a cheaper alias.

A rule says "when the team's budget is 80 % used, serve its requests with ``fast`` instead of
refusing them". The stage runs after ``Resolve`` and before the budget reservation (which then
prices the cheaper candidates). It costs nothing for callers without a rule; for the others it
reads their budget states (one state-backend call). The response says so:
``x-pointsman-downgrade: smart->fast (team 'search' monthly budget at 83%)``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from pointsman.core.pipeline import RequestContext, Stage
from pointsman.governance.budgets import BudgetLedger, Scope
from pointsman.governance.enforce import subjects_of
from pointsman.governance.settings import DowngradeRule
from pointsman.routing.table import RouteTable

Rules = Mapping[tuple[Scope, str], DowngradeRule]


class Downgrade(Stage):
    name = "downgrade"

    def __init__(self, ledger: BudgetLedger, rules: Callable[[], Rules], table: RouteTable) -> None:
        self.ledger = ledger
        self.rules = rules
        self.table = table

    async def on_request(self, ctx: RequestContext) -> None:
        rules = self.rules()
        if not rules:
            return
        subjects = subjects_of(ctx)
        if not any((scope, subjects.of(scope)) in rules for scope in Scope):
            return
        for level, state in await self.ledger.usage(subjects):
            rule = rules.get((level.spec.scope, level.subject))
            if rule is None or rule.to == ctx.alias or rule.to not in self.table.aliases:
                continue
            share = level.share(state)
            if share >= rule.at:
                ctx.response_headers["x-pointsman-downgrade"] = (
                    f"{ctx.alias}->{rule.to} ({level.name} at {share:.0%})"
                )
                ctx.notes[self.name] = (ctx.alias, rule.to, share)
                ctx.alias = rule.to
                self.table.resolve(ctx, rule.to)  # the target's constraints and policy
                return
