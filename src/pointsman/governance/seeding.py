"""Budget counters start from the durable ledger, so a restart never forgets a period's spend.

The counters that enforce budgets live in the state backend: in process memory (gone when the
gateway restarts) or in Redis (gone when a Redis without persistence restarts). The spend they
count is also in the SQL ledger. So at start, before the gateway serves its first request, and
every ``governance.seed_seconds`` after, each budget's counter for the current period is seeded
with what the SQL ledger holds for it. ``seed_spent`` sets a counter only where the backend has
none, so replicas starting together, and repeated passes, never count anything twice.

What this does not cover, and why it is acceptable:

* Records still in a writer's queue are not in the SQL sum yet: at most one flush interval of
  traffic, and none after a clean shutdown (SIGTERM drains the queue first).
* If Redis loses its data while gateways keep running, a counter that a request touches before
  the next pass starts from that request's spend, and the pass leaves it alone: that subject's
  earlier spend this period is forgotten. Run Redis with persistence (AOF) where that matters;
  a restart of the gateways re-seeds what is missing.
"""

from __future__ import annotations

import logging
from datetime import datetime

from pointsman.governance.budgets import BudgetLedger, ledger_spec
from pointsman.governance.periods import period_window
from pointsman.store.spend import SpendStore

log = logging.getLogger("pointsman.budgets")


async def seed_budgets(ledger: BudgetLedger, spend: SpendStore, now: datetime) -> int:
    """Seed every budget counter of the current periods that the backend lacks.

    Returns how many counters were set. One grouped query per budget (a ``"*"`` budget seeds
    each subject that spent in the period).
    """
    seeded = 0
    for spec in ledger.book.specs():
        window = period_window(spec.period, now)
        rows = await spend.by_org_and(
            spec.scope.value,
            window.start,
            window.end,
            scope_id=None if spec.subject == "*" else spec.subject,
            org_id=spec.org,
        )
        for org, subject, total in rows:
            if total > 0 and await ledger.state.seed_spent(
                ledger_spec(spec, subject, org, window), total
            ):
                seeded += 1
    if seeded:
        log.info("budgets: %d counter(s) seeded from the spend ledger", seeded)
    return seeded
