"""Budget use for the dashboard and ``/metrics``, read off the request path.

Budgets are kept by the governance ledger, per org, team, key, user and feature, with wildcard
budgets applying to every subject. Which budgets are *in use* is only known from traffic, so
:class:`BudgetWatch` remembers the callers it has seen (org, team, key; at most
:data:`MAX_CALLERS`, least recent dropped) and every ``interval`` seconds asks the ledger for
the budgets that apply to each (one state-backend read per caller); a caller seen for the first
time wakes it early, so a new team's budget shows within a second. It also reads the names of
orgs and teams from the key store, so the dashboard can show names rather than ids. The latest
readings are plain values that scrapes and dashboard polls copy without awaiting anything.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING, Any

from pointsman.governance.budgets import BudgetLedger, Subjects

if TYPE_CHECKING:
    from pointsman.store.keys import KeyStore

log = logging.getLogger("pointsman.observe")
MAX_CALLERS = 200
MIN_GAP = 0.5  # seconds between two refreshes, however many new callers arrive


class BudgetWatch:
    def __init__(
        self, ledger: BudgetLedger, keys: KeyStore | None = None, interval: float = 5.0
    ) -> None:
        self.ledger = ledger
        self.keys = keys
        self.interval = interval
        self.callers: dict[tuple[str | None, str | None, str | None], None] = {}
        self.budgets: list[dict[str, Any]] = []
        self.names: dict[str, str] = {}  # org and team ids -> names
        self._task: asyncio.Task[None] | None = None
        self._news = asyncio.Event()

    def seen(self, org: str | None, team: str | None, key: str | None) -> None:
        """A request from this caller finished (cheap: one dict operation)."""
        callers = self.callers
        who = (org, team, key)
        if who in callers:
            return
        if len(callers) >= MAX_CALLERS:
            del callers[next(iter(callers))]
        callers[who] = None
        self._news.set()

    async def refresh(self) -> list[dict[str, Any]]:
        """Read every known caller's budgets; one row per budget ledger, fullest first."""
        if self.keys is not None:
            teams = await self.keys.list_teams()
            orgs = await self.keys.list_orgs()
            self.names = {org.id: org.name for org in orgs}
            self.names.update({team.id: team.name for team in teams})
        rows: dict[str, dict[str, Any]] = {}
        for org, team, key in list(self.callers):
            usage = await self.ledger.usage(Subjects(org=org, team=team, key=key))
            for level, state in usage:
                spec = level.spec
                if level.ledger.key in rows:
                    continue
                rows[level.ledger.key] = {
                    "name": level.name,
                    "scope": spec.scope.value,
                    "subject": level.subject,
                    "label": self.names.get(level.subject, level.subject),
                    "period": spec.period.value,
                    "window": level.window.label,
                    "mode": spec.mode.value,
                    "limit_usd": spec.limit / 1e6,
                    "spent_usd": state.spent / 1e6,
                    "reserved_usd": state.reserved / 1e6,
                    "share": round(level.share(state), 4),
                }
        self.budgets = sorted(rows.values(), key=lambda row: -row["share"])
        return self.budgets

    async def _run(self) -> None:
        while True:
            self._news.clear()
            try:
                await self.refresh()
            except Exception:  # the state backend may be briefly away; keep the last reading
                log.warning("budget watch: refresh failed; showing the previous reading")
            await asyncio.sleep(MIN_GAP)
            with contextlib.suppress(TimeoutError):  # woken early by a new caller, or not
                await asyncio.wait_for(self._news.wait(), self.interval - MIN_GAP)

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
