"""Write a batch of usage records and its daily rollups in one transaction, on either dialect.

The insert skips request ids already in the ledger (``ON CONFLICT DO NOTHING ... RETURNING``),
and only the rows actually inserted are added to ``daily_rollups``: a batch written twice
changes nothing the second time. Rollup rows are aggregated in Python first, so that each
rollup key appears once per statement (PostgreSQL refuses to update one row twice in a single
``INSERT ... ON CONFLICT DO UPDATE``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, date
from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.dml import Insert

from pointsman.store.records import UsageRecord
from pointsman.store.tables import daily_rollups, usage_records

__all__ = ["ROLLUP_KEY", "ROLLUP_SUMS", "insert_for", "write_batch"]

ROLLUP_KEY = ("day", "org_id", "team_id", "key_id", "model", "feature")
ROLLUP_SUMS = (
    "requests",
    "prompt_tokens",
    "completion_tokens",
    "cached_tokens",
    "reasoning_tokens",
    "cost_micros",
)


def insert_for(connection: AsyncConnection) -> Callable[..., Any]:
    """The dialect's ``insert`` (the one with ``on_conflict_do_*``)."""
    name = connection.dialect.name
    if name == "postgresql":
        return postgresql.insert
    if name == "sqlite":
        return sqlite.insert
    raise NotImplementedError(f"the store supports SQLite and PostgreSQL, not {name}")


async def write_batch(connection: AsyncConnection, records: Sequence[UsageRecord]) -> int:
    """Insert ``records`` and upsert their rollups. Returns how many were new.

    Runs inside the caller's transaction; the caller commits.
    """
    if not records:
        return 0
    insert = insert_for(connection)
    statement: Insert = (
        insert(usage_records)
        .on_conflict_do_nothing(index_elements=["request_id"])
        .returning(usage_records.c.request_id)
    )
    result = await connection.execute(statement, [record.row() for record in records])
    inserted: set[str] = set(result.scalars().all())
    rows = rollup_rows([r for r in records if r.request_id in inserted])
    if rows:
        upsert = insert(daily_rollups)
        totals = {name: daily_rollups.c[name] + upsert.excluded[name] for name in ROLLUP_SUMS}
        await connection.execute(
            upsert.on_conflict_do_update(index_elements=list(ROLLUP_KEY), set_=totals), rows
        )
    return len(inserted)


def rollup_rows(records: Sequence[UsageRecord]) -> list[dict[str, Any]]:
    """One summed row per (UTC day, org, team, key, model, feature); missing scopes are ''."""
    sums: dict[tuple[date | str, ...], list[int]] = {}
    for r in records:
        key = (
            r.ts.astimezone(UTC).date(),
            r.org_id or "",
            r.team_id or "",
            r.key_id or "",
            r.model or "",
            r.feature or "",
        )
        acc = sums.setdefault(key, [0] * len(ROLLUP_SUMS))
        for i, value in enumerate(
            (
                1,
                r.prompt_tokens,
                r.completion_tokens,
                r.cached_tokens,
                r.reasoning_tokens,
                r.cost_micros,
            )
        ):
            acc[i] += value
    return [
        {**dict(zip(ROLLUP_KEY, key, strict=True)), **dict(zip(ROLLUP_SUMS, acc, strict=True))}
        for key, acc in sums.items()
    ]
