"""Governance for one gateway process: store, usage writer, shared state, keys, budgets, limits.

A :class:`Governance` lives as long as the process (a config reload keeps it: database engines,
the usage queue and counters must not be rebuilt under load). Each config snapshot asks it for
its pipeline stages (:meth:`stages`), priced with that snapshot's catalog.

Budgets and limits come from two places, merged: the config file and the store (admin API,
CLI). Store changes reach this process at once when they are made here (:meth:`changed`) and
within ``refresh_seconds`` when made elsewhere (another replica, the CLI).

Stage order matters: ``Resolve`` runs first, so the budget reservation can price the dearest
candidate; completion runs in reverse, so accounting prices the request once and budgets and
limits settle against that figure.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from typing import Any

from pointsman.config import Config
from pointsman.core.pipeline import Stage
from pointsman.governance.accounting import Accounting, Pricing, fallback_reach
from pointsman.governance.alerts import AlertSink
from pointsman.governance.anomaly import AnomalyWatch
from pointsman.governance.budgets import BudgetBook, BudgetLedger, BudgetSpec, Mode, Scope
from pointsman.governance.catalog import Catalog
from pointsman.governance.downgrade import Downgrade
from pointsman.governance.enforce import Budgets, RateLimits
from pointsman.governance.keys import KeyCache
from pointsman.governance.limits import LimitBook, LimitSpec, RateLimiter
from pointsman.governance.periods import Period
from pointsman.governance.seeding import seed_budgets
from pointsman.governance.settings import DowngradeRule
from pointsman.routing.table import RouteTable
from pointsman.state import check_workers, make_backend
from pointsman.store.budgets import Budget, BudgetStore, RateLimit
from pointsman.store.engine import create_engine
from pointsman.store.keys import KeyStore
from pointsman.store.spend import SpendStore
from pointsman.store.usage_writer import UsageWriter

log = logging.getLogger("pointsman.governance")


def budget_spec(budget: Budget) -> BudgetSpec:
    return BudgetSpec(
        scope=Scope(budget.scope_kind),
        subject=budget.scope_id,
        limit_usd=max(budget.limit_micros, 1) / 1_000_000,
        period=Period(budget.period),
        mode=Mode.HARD if budget.hard else Mode.SOFT,
    )


def limit_book(config_book: LimitBook, stored: list[RateLimit]) -> LimitBook:
    """Config limits with stored ones laid over them (stored key and team limits win)."""
    tables: dict[str, dict[str, LimitSpec]] = {
        "keys": dict(config_book.keys),
        "teams": dict(config_book.teams),
        "models": dict(config_book.models),
    }
    for row in stored:
        table = {"key": "keys", "team": "teams"}.get(row.scope_kind)
        if table is None:
            continue
        per_second = None
        if row.cost_per_minute_micros:
            per_second = row.cost_per_minute_micros / 60 / 1_000_000
        tables[table][row.scope_id] = LimitSpec(rpm=row.rpm, tpm=row.tpm, usd_per_second=per_second)
    return LimitBook(**tables)


class Governance:
    def __init__(self, config: Config) -> None:
        settings = config.governance
        self.settings = settings
        self.engine = create_engine(config.store)
        self.key_store = KeyStore(self.engine)
        self.budget_store = BudgetStore(self.engine)
        self.spend_store = SpendStore(self.engine)
        usage = config.store.usage
        self.writer = UsageWriter(
            self.engine,
            flush_interval=usage.flush_interval,
            batch_size=usage.batch_size,
            max_queue=usage.max_queue,
        )
        self.state = make_backend(config.state.url, prefix=config.state.prefix)
        check_workers(self.state, config.server.workers)
        self.keys = KeyCache(self.key_store, settings.refresh_seconds)
        self.alerts = AlertSink(settings.alert_webhook)
        self.anomalies = AnomalyWatch(
            self.engine,
            self.state,
            self.alerts,
            settings.anomaly_interval_seconds,
            settings.anomaly_min_usd,
        )
        self.downgrades: dict[tuple[Scope, str], DowngradeRule] = {}
        self.book = BudgetBook()
        self.ledger = BudgetLedger(self.state, self.book)
        self.limiter = RateLimiter(self.state, LimitBook())
        self._config = config
        self._stored_budgets: list[Budget] = []
        self._stored_limits: list[RateLimit] = []
        self._tasks: list[asyncio.Task[None]] = []

    @property
    def describe(self) -> str:
        return f"state backend: {self.state.describe()}; store: {self.engine.url.drivername}"

    async def start(self) -> None:
        await self.state.ping()
        if self.settings.auto_migrate:
            from pointsman.store.migrate import upgrade  # Alembic: only when migrating

            await upgrade(self.engine, schema=self._config.store.schema)
        self.writer.start()
        await self.keys.start()
        await self._load_policies()
        await seed_budgets(self.ledger, self.spend_store, datetime.now(UTC))
        loop = asyncio.get_running_loop()
        self._tasks = [
            loop.create_task(self._refresh_policies()),
            loop.create_task(self._reseed()),
            loop.create_task(self.anomalies.run()),
        ]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.keys.stop()
        await self.alerts.close()
        left = await self.writer.drain()
        if left:
            log.error("usage writer: %d records could not be written at shutdown", left)
        await self.state.close()
        await self.engine.dispose()

    def configure(self, config: Config) -> None:
        """Apply a reloaded config's budgets and limits (store, state: restart to change)."""
        self._config = config
        self.settings = config.governance
        self._apply()

    def stages(self, config: Config, routes: RouteTable) -> tuple[list[Stage], list[Stage]]:
        """This snapshot's governance stages: ``(gates, spend)``.

        ``gates`` (downgrade, accounting, rate limits) go right after ``Resolve``; ``spend``
        (the budget reservation) goes last, after the cache, because a cache hit costs nothing.
        Accounting comes before the rest so that its completion, which runs in reverse order,
        sees the final outcome of every request that got that far, cache hits included.
        """
        catalog = Catalog.load(overrides=config.catalog or None)
        pricing = Pricing(catalog, fallback_reach(config, routes))
        fail_open = config.governance.fail_open
        gates: list[Stage] = [
            Downgrade(self.ledger, lambda: self.downgrades, routes),
            Accounting(pricing, self.writer),
            RateLimits(
                self.limiter,
                estimate_cost=pricing.estimate,
                actual_cost=pricing.actual,
                tokens=pricing.tokens,
                fail_open=fail_open,
            ),
        ]
        spend: list[Stage] = [
            Budgets(
                self.ledger,
                pricing.estimate,
                pricing.actual,
                on_alert=self.alerts.budget,
                fail_open=fail_open,
            )
        ]
        return gates, spend

    async def changed(self, what: str) -> None:
        """Something was written through this process: make it effective now."""
        if what == "keys":
            await self.keys.invalidate()
        else:
            await self._load_policies()

    async def _load_policies(self) -> None:
        self._stored_budgets = await self.budget_store.list_budgets()
        self._stored_limits = await self.budget_store.list_rate_limits()
        self._apply()

    def _apply(self) -> None:
        configured = {(b.scope, b.subject, b.period, b.org) for b in self.settings.budgets}
        stored = [budget_spec(b) for b in self._stored_budgets]
        stored = [b for b in stored if (b.scope, b.subject, b.period, b.org) not in configured]
        self.book.replace([*self.settings.budgets, *stored])
        self.limiter.book = limit_book(self.settings.limits, self._stored_limits)
        rules = {(r.scope, r.subject): r for r in self.settings.downgrades}
        for budget in self._stored_budgets:
            if budget.downgrade_alias and budget.downgrade_threshold:
                key = (Scope(budget.scope_kind), budget.scope_id)
                rules.setdefault(
                    key,
                    DowngradeRule(
                        key[0], key[1], budget.downgrade_alias, budget.downgrade_threshold
                    ),
                )
        self.downgrades = rules

    async def _reseed(self) -> None:
        """Seed counters the state backend lost (e.g. a Redis restart); see ``seeding.py``."""
        while True:
            await asyncio.sleep(self.settings.seed_seconds)
            try:
                await seed_budgets(self.ledger, self.spend_store, datetime.now(UTC))
            except Exception:
                log.exception("budgets: seeding from the spend ledger failed; will retry")

    async def _refresh_policies(self) -> None:
        """Reload budgets and limits when the store's fingerprint changes (one cheap query a
        ``refresh_seconds``; deletions change the count)."""
        seen: tuple[Any, ...] = await self.budget_store.fingerprint()
        while True:
            await asyncio.sleep(self.settings.refresh_seconds)
            try:
                stamp = await self.budget_store.fingerprint()
                if stamp != seen:
                    seen = stamp
                    await self._load_policies()
            except Exception:
                log.exception("budgets and limits: refresh failed; keeping the previous ones")
