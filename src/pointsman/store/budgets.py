"""Budgets, rate limits and the record of alerts already sent: their durable definitions.

These are *definitions*; live counters belong to the state backend (``pointsman.state``). A
budget is unique per (scope kind, scope id, period): setting it again updates it in place.
Alerts fire once per budget, period and threshold: :meth:`BudgetStore.mark_alert_sent` is the
atomic "first one wins" check that makes that true across replicas.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, get_args

from sqlalchemy import Row, delete, func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from pointsman.store.keys import new_id
from pointsman.store.ledger import insert_for
from pointsman.store.tables import alerts_sent, budgets, rate_limits

__all__ = [
    "Budget",
    "BudgetStore",
    "Period",
    "RateLimit",
    "ScopeKind",
    "period_start",
]

ScopeKind = Literal["org", "team", "key", "user", "feature"]
Period = Literal["daily", "weekly", "monthly", "total"]
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class Budget:
    """A spend limit in micro-USD. Soft budgets (``hard`` False) only alert and may overrun."""

    id: str
    scope_kind: str
    scope_id: str
    period: str
    limit_micros: int
    hard: bool
    downgrade_alias: str | None
    downgrade_threshold: float | None
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class RateLimit:
    id: str
    scope_kind: str
    scope_id: str
    rpm: int | None
    tpm: int | None
    cost_per_minute_micros: int | None
    updated_at: datetime


def period_start(period: str, now: datetime) -> datetime:
    """The UTC start of the budget period holding ``now`` (weeks start on Monday)."""
    day = now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    if period == "daily":
        return day
    if period == "weekly":
        return day - timedelta(days=day.weekday())
    if period == "monthly":
        return day.replace(day=1)
    if period == "total":
        return EPOCH
    raise ValueError(f"unknown period {period!r}; use one of {', '.join(get_args(Period))}")


def _check(scope_kind: str, period: str | None = None) -> None:
    if scope_kind not in get_args(ScopeKind):
        raise ValueError(f"unknown scope kind {scope_kind!r}; use {', '.join(get_args(ScopeKind))}")
    if period is not None and period not in get_args(Period):
        raise ValueError(f"unknown period {period!r}; use one of {', '.join(get_args(Period))}")


def _budget(row: Row[Any]) -> Budget:
    return Budget(**row._mapping)


class BudgetStore:
    """Typed reads and writes of budgets, rate limits and sent alerts."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def set_budget(
        self,
        scope_kind: ScopeKind,
        scope_id: str,
        period: Period,
        limit_micros: int,
        *,
        hard: bool = True,
        downgrade_alias: str | None = None,
        downgrade_threshold: float | None = None,
    ) -> Budget:
        """Create or replace the budget for (scope, period). Raises ValueError on bad input."""
        _check(scope_kind, period)
        if limit_micros < 0:
            raise ValueError("limit_micros must be >= 0")
        if downgrade_threshold is not None and not 0 < downgrade_threshold <= 1:
            raise ValueError("downgrade_threshold is a fraction of the limit in (0, 1]")
        if (downgrade_alias is None) != (downgrade_threshold is None):
            raise ValueError("downgrade_alias and downgrade_threshold go together")
        now = datetime.now(UTC)
        values = {
            "limit_micros": limit_micros,
            "hard": hard,
            "downgrade_alias": downgrade_alias,
            "downgrade_threshold": downgrade_threshold,
            "updated_at": now,
        }
        async with self.engine.begin() as conn:
            insert = insert_for(conn)(budgets).values(
                id=new_id("bud"),
                scope_kind=scope_kind,
                scope_id=scope_id,
                period=period,
                created_at=now,
                **values,
            )
            statement = insert.on_conflict_do_update(
                index_elements=["scope_kind", "scope_id", "period"], set_=values
            ).returning(budgets)
            return _budget((await conn.execute(statement)).one())

    async def list_budgets(
        self, scope_kind: ScopeKind | None = None, scope_id: str | None = None
    ) -> list[Budget]:
        query = select(budgets).order_by(budgets.c.scope_kind, budgets.c.scope_id, budgets.c.period)
        if scope_kind is not None:
            query = query.where(budgets.c.scope_kind == scope_kind)
        if scope_id is not None:
            query = query.where(budgets.c.scope_id == scope_id)
        async with self.engine.connect() as conn:
            return [_budget(r) for r in await conn.execute(query)]

    async def delete_budget(self, budget_id: str) -> bool:
        async with self.engine.begin() as conn:
            await conn.execute(delete(alerts_sent).where(alerts_sent.c.budget_id == budget_id))
            result = await conn.execute(delete(budgets).where(budgets.c.id == budget_id))
            return result.rowcount == 1

    async def set_rate_limit(
        self,
        scope_kind: ScopeKind,
        scope_id: str,
        *,
        rpm: int | None = None,
        tpm: int | None = None,
        cost_per_minute_micros: int | None = None,
    ) -> RateLimit:
        """Create or replace the limits of a scope (None: that dimension is unlimited)."""
        _check(scope_kind)
        if any(v is not None and v < 1 for v in (rpm, tpm, cost_per_minute_micros)):
            raise ValueError("limits must be >= 1 (None for unlimited)")
        values = {
            "rpm": rpm,
            "tpm": tpm,
            "cost_per_minute_micros": cost_per_minute_micros,
            "updated_at": datetime.now(UTC),
        }
        async with self.engine.begin() as conn:
            insert = insert_for(conn)(rate_limits).values(
                id=new_id("rl"), scope_kind=scope_kind, scope_id=scope_id, **values
            )
            statement = insert.on_conflict_do_update(
                index_elements=["scope_kind", "scope_id"], set_=values
            ).returning(rate_limits)
            return RateLimit(**(await conn.execute(statement)).one()._mapping)

    async def fingerprint(self) -> tuple[Any, ...]:
        """A cheap summary that changes whenever a budget or a rate limit is written."""
        query = select(
            *(
                select(aggregate).select_from(table).scalar_subquery()
                for table in (budgets, rate_limits)
                for aggregate in (func.count(), func.max(table.c.updated_at))
            )
        )
        async with self.engine.connect() as conn:
            return tuple((await conn.execute(query)).one())

    async def list_rate_limits(self) -> list[RateLimit]:
        query = select(rate_limits).order_by(rate_limits.c.scope_kind, rate_limits.c.scope_id)
        async with self.engine.connect() as conn:
            return [RateLimit(**r._mapping) for r in await conn.execute(query)]

    async def delete_rate_limit(self, scope_kind: ScopeKind, scope_id: str) -> bool:
        statement = delete(rate_limits).where(
            rate_limits.c.scope_kind == scope_kind, rate_limits.c.scope_id == scope_id
        )
        async with self.engine.begin() as conn:
            return (await conn.execute(statement)).rowcount == 1

    async def mark_alert_sent(self, budget_id: str, period_start: datetime, threshold: int) -> bool:
        """Record that the ``threshold`` % alert of this budget period went out.

        True for the first caller only (atomic, also across replicas): send the alert then;
        False means it was already sent. Raises IntegrityError for an unknown budget.
        """
        async with self.engine.begin() as conn:
            statement = (
                insert_for(conn)(alerts_sent)
                .values(
                    budget_id=budget_id,
                    period_start=period_start,
                    threshold=threshold,
                    sent_at=datetime.now(UTC),
                )
                .on_conflict_do_nothing()
                .returning(alerts_sent.c.budget_id)
            )
            return (await conn.execute(statement)).first() is not None
