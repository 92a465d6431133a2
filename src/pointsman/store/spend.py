"""Spend reports over the usage ledger: by team, key, model, feature ... since a time.

:meth:`SpendStore.report` reads ``usage_records`` (exact to the request, any time window);
:meth:`SpendStore.daily` reads ``daily_rollups`` (whole UTC days, cheap over long ranges);
:meth:`SpendStore.total` gives the spend of one scope since a time, e.g. to seed a budget
counter at startup. Amounts are micro-USD.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Literal

from sqlalchemy import ColumnElement, Select, func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from pointsman.store.tables import daily_rollups, usage_records

__all__ = ["GroupBy", "SpendRow", "SpendStore"]

GroupBy = Literal["org", "team", "key", "user", "model", "feature", "alias", "deployment"]
_COLUMNS = {
    "org": "org_id",
    "team": "team_id",
    "key": "key_id",
    "user": "user_id",
    "model": "model",
    "feature": "feature",
    "alias": "alias",
    "deployment": "deployment",
}
_ROLLUP_GROUPS = ("org", "team", "key", "model", "feature", "day")


@dataclass(frozen=True, slots=True)
class SpendRow:
    """Totals for one group (``group`` None: records without that attribute)."""

    group: str | None
    requests: int
    prompt_tokens: int
    completion_tokens: int
    cached_tokens: int
    reasoning_tokens: int
    cost_micros: int


def _sums(table: Any, count: ColumnElement[Any]) -> list[ColumnElement[Any]]:
    return [
        count.label("requests"),
        *(
            func.coalesce(func.sum(table.c[name]), 0).label(name)
            for name in (
                "prompt_tokens",
                "completion_tokens",
                "cached_tokens",
                "reasoning_tokens",
                "cost_micros",
            )
        ),
    ]


class SpendStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def report(
        self,
        by: GroupBy,
        since: datetime,
        until: datetime | None = None,
        *,
        where: dict[str, str] | None = None,
        limit: int | None = None,
    ) -> list[SpendRow]:
        """Spend grouped ``by`` over ``[since, until)``, dearest first.

        ``where`` narrows by other attributes, e.g. ``{"team": "team_1"}`` (same names as
        ``by``). Raises ValueError for an unknown grouping.
        """
        column = usage_records.c[_column(by)]
        query: Select[Any] = (
            select(column.label("group"), *_sums(usage_records, func.count()))
            .where(usage_records.c.ts >= since)
            .group_by(column)
        )
        if until is not None:
            query = query.where(usage_records.c.ts < until)
        for name, value in (where or {}).items():
            query = query.where(usage_records.c[_column(name)] == value)
        query = query.order_by(func.sum(usage_records.c.cost_micros).desc(), column)
        if limit is not None:
            query = query.limit(limit)
        return await self._rows(query)

    async def total(
        self,
        since: datetime,
        until: datetime | None = None,
        *,
        scope: GroupBy | None = None,
        scope_id: str | None = None,
    ) -> int:
        """Micro-USD spent in ``[since, until)``, by everyone or by one scope."""
        query = select(func.coalesce(func.sum(usage_records.c.cost_micros), 0)).where(
            usage_records.c.ts >= since
        )
        if until is not None:
            query = query.where(usage_records.c.ts < until)
        if scope is not None:
            query = query.where(usage_records.c[_column(scope)] == scope_id)
        async with self.engine.connect() as conn:
            return int(await conn.scalar(query) or 0)

    async def by_org_and(
        self,
        scope: GroupBy,
        since: datetime,
        until: datetime | None = None,
        *,
        scope_id: str | None = None,
        org_id: str | None = None,
    ) -> list[tuple[str | None, str, int]]:
        """``(org, subject, micro-USD)`` per org and ``scope`` subject in ``[since, until)``;
        records without that subject are left out. For seeding budget counters."""
        column = usage_records.c[_column(scope)]
        query = (
            select(usage_records.c.org_id, column, func.sum(usage_records.c.cost_micros))
            .where(usage_records.c.ts >= since, column.is_not(None))
            .group_by(usage_records.c.org_id, column)
        )
        if until is not None:
            query = query.where(usage_records.c.ts < until)
        if scope_id is not None:
            query = query.where(column == scope_id)
        if org_id is not None:
            query = query.where(usage_records.c.org_id == org_id)
        async with self.engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        return [
            (None if org is None else str(org), str(subject), int(str(total or 0)))
            for org, subject, total in rows
        ]

    async def daily(
        self,
        by: Literal["org", "team", "key", "model", "feature", "day"],
        since: date,
        until: date | None = None,
    ) -> list[SpendRow]:
        """Spend from the daily rollups over whole UTC days ``[since, until)``, dearest first.

        Rollups store a missing attribute as ``''``; it is reported as None.
        """
        if by not in _ROLLUP_GROUPS:
            raise ValueError(f"cannot group rollups by {by!r}; use {', '.join(_ROLLUP_GROUPS)}")
        column = daily_rollups.c["day" if by == "day" else _column(by)]
        query: Select[Any] = (
            select(column.label("group"), *_sums(daily_rollups, func.sum(daily_rollups.c.requests)))
            .where(daily_rollups.c.day >= since)
            .group_by(column)
            .order_by(func.sum(daily_rollups.c.cost_micros).desc(), column)
        )
        if until is not None:
            query = query.where(daily_rollups.c.day < until)
        return await self._rows(query)

    async def _rows(self, query: Select[Any]) -> list[SpendRow]:
        async with self.engine.connect() as conn:
            rows = await conn.execute(query)
            return [
                SpendRow(
                    group=None if r.group in (None, "") else str(r.group),
                    requests=int(r.requests),
                    prompt_tokens=int(r.prompt_tokens),
                    completion_tokens=int(r.completion_tokens),
                    cached_tokens=int(r.cached_tokens),
                    reasoning_tokens=int(r.reasoning_tokens),
                    cost_micros=int(r.cost_micros),
                )
                for r in rows
            ]


def _column(name: str) -> str:
    try:
        return _COLUMNS[name]
    except KeyError:
        raise ValueError(f"unknown grouping {name!r}; use {', '.join(_COLUMNS)}") from None
