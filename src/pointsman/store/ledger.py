"""Write a batch of usage records and its daily rollups in one transaction, on either dialect.

Request ids already in the ledger are looked up first and skipped, and only the rows actually
inserted are added to ``daily_rollups``: a batch written twice changes nothing the second time.
The insert itself carries no ``ON CONFLICT``: should another writer store one of the ids between
the lookup and the insert, the unique index refuses the batch and the writer retries it, when
the lookup sees that row. Rollup rows are aggregated in Python first, so that each rollup key
appears once per statement (PostgreSQL refuses to update one row twice in a single
``INSERT ... ON CONFLICT DO UPDATE``).

Why the records go to the driver directly rather than through a SQLAlchemy ``insert``: the
ledger takes a row per request, on the process that serves the requests, so its cost per row
is paid by every request. On SQLite the batch goes as a few multi-row ``INSERT ... VALUES``
statements: the ``sqlite3`` module hands the GIL back and forth with the event loop around
every step of a statement, and an ``executemany`` of 500 rows made 500 such exchanges (thread
switches that cost the serving process about as much CPU as the inserts themselves). On
PostgreSQL asyncpg's ``executemany`` pipelines the rows on the event loop. The statements are
built from :data:`~pointsman.store.tables.usage_records`, so the schema stays in one place; a
test compares rows written this way with what SQLAlchemy reads back.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime
from typing import Any

from msgspec.structs import astuple
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from pointsman.store.records import UsageRecord
from pointsman.store.tables import daily_rollups, usage_records

__all__ = ["ROLLUP_KEY", "ROLLUP_SUMS", "insert_for", "write_batch"]

# Every ledger column but the surrogate key, in table order: UsageRecord's fields, in its order.
COLUMNS = tuple(column.name for column in usage_records.columns if column.name != "id")
_NAMES = ", ".join(COLUMNS)
_PG_INSERT = (
    f"INSERT INTO usage_records ({_NAMES}) "
    f"VALUES ({', '.join(f'${i}' for i in range(1, len(COLUMNS) + 1))})"
)
_SQLITE_ROW = f"({', '.join('?' * len(COLUMNS))})"
_SQLITE_VARIABLES = 999  # the lowest limit SQLite builds have had; 32766 since 3.32
_SQLITE_ROWS = _SQLITE_VARIABLES // len(COLUMNS)  # rows per statement
_TS = COLUMNS.index("ts")
_LOOKUP = 500  # ids per lookup statement

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
    insert = insert_for(connection)  # also refuses a dialect the store does not support
    stored = await _stored(connection, [record.request_id for record in records])
    fresh: dict[str, UsageRecord] = {}
    for record in records:  # also skips an id repeated within the batch
        if record.request_id not in stored:
            fresh.setdefault(record.request_id, record)
    if not fresh:
        return 0
    dialect = connection.dialect.name
    rows = [_row(record, dialect) for record in fresh.values()]
    driver: Any = (await connection.get_raw_connection()).driver_connection
    if dialect == "postgresql":
        await driver.executemany(_PG_INSERT, rows)
    else:
        for start in range(0, len(rows), _SQLITE_ROWS):
            chunk = rows[start : start + _SQLITE_ROWS]
            values = ", ".join([_SQLITE_ROW] * len(chunk))
            flat = [value for row in chunk for value in row]
            await driver.execute(f"INSERT INTO usage_records ({_NAMES}) VALUES {values}", flat)
    upsert = insert(daily_rollups)
    totals = {name: daily_rollups.c[name] + upsert.excluded[name] for name in ROLLUP_SUMS}
    await connection.execute(
        upsert.on_conflict_do_update(index_elements=list(ROLLUP_KEY), set_=totals),
        rollup_rows(list(fresh.values())),
    )
    return len(fresh)


async def _stored(connection: AsyncConnection, ids: list[str]) -> set[str]:
    """Which of ``ids`` the ledger already holds.

    Through the SQLAlchemy connection, so that on PostgreSQL it also opens the transaction that
    the driver-level insert then joins (SQLite's driver opens one before the first insert).

    Plain SQL in the driver's parameter style: a SQLAlchemy ``IN`` of 500 bound values costs
    more to compile than the lookup does to run.
    """
    found: set[str] = set()
    if connection.dialect.name == "postgresql":
        query = "SELECT request_id FROM usage_records WHERE request_id = ANY($1)"
        found.update((await connection.exec_driver_sql(query, (ids,))).scalars())
        return found
    for start in range(0, len(ids), _LOOKUP):
        chunk = tuple(ids[start : start + _LOOKUP])
        marks = ", ".join("?" * len(chunk))
        query = f"SELECT request_id FROM usage_records WHERE request_id IN ({marks})"
        found.update((await connection.exec_driver_sql(query, chunk)).scalars())
    return found


def _row(record: UsageRecord, dialect: str) -> tuple[Any, ...]:
    """The record's column values as the driver takes them (UsageRecord is in column order)."""
    values = astuple(record)
    ts: datetime = values[_TS].astimezone(UTC)
    if dialect == "postgresql":
        return (*values[:_TS], ts, *values[_TS + 1 :])
    # SQLAlchemy's storage format for SQLite DATETIME columns: always six fractional digits
    stamp = ts.replace(tzinfo=None).isoformat(" ", "microseconds")
    return (*values[:_TS], stamp, *values[_TS + 1 :])


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
