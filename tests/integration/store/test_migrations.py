"""The packaged Alembic migrations build exactly the schema the code uses, on both dialects."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, inspect

from pointsman.store.engine import create_engine
from pointsman.store.migrate import current, head, upgrade
from pointsman.store.tables import metadata

from .conftest import DIALECTS, fresh_database

TABLES = {
    "orgs",
    "teams",
    "virtual_keys",
    "budgets",
    "rate_limits",
    "usage_records",
    "daily_rollups",
    "alerts_sent",
    "alembic_version",
}


def _diff(connection: Connection) -> list[Any]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return list(compare_metadata(context, metadata))


def _tables(connection: Connection) -> set[str]:
    return set(inspect(connection).get_table_names())


@pytest.mark.parametrize("kind", DIALECTS)
async def test_upgrade_builds_the_schema_and_is_idempotent(kind: str, tmp_path: Path) -> None:
    async with fresh_database(kind, tmp_path) as settings:
        engine = create_engine(settings)
        try:
            assert await current(engine) is None
            assert await upgrade(engine, schema=settings.schema) == head()
            assert await upgrade(engine, schema=settings.schema) == head()  # no-op the 2nd time
            assert await current(engine) == head()
            async with engine.connect() as conn:
                assert await conn.run_sync(_tables) == TABLES
                assert await conn.run_sync(_diff) == []  # migrations == tables.py, exactly
        finally:
            await engine.dispose()


async def test_sqlite_runs_in_wal_mode(tmp_path: Path) -> None:
    async with fresh_database("sqlite", tmp_path) as settings:
        engine = create_engine(settings)
        try:
            async with engine.connect() as conn:
                mode = (await conn.exec_driver_sql("PRAGMA journal_mode")).scalar()
                sync = (await conn.exec_driver_sql("PRAGMA synchronous")).scalar()
                keys = (await conn.exec_driver_sql("PRAGMA foreign_keys")).scalar()
            assert (mode, sync, keys) == ("wal", 2, 1)  # 2 = FULL
        finally:
            await engine.dispose()


async def test_sqlite_file_directory_is_created(tmp_path: Path) -> None:
    from pointsman.store.settings import StoreSettings

    target = tmp_path / "nested" / "dir" / "ledger.db"
    engine = create_engine(StoreSettings(url=f"sqlite+aiosqlite:///{target}"))
    try:
        await upgrade(engine)
    finally:
        await engine.dispose()
    assert target.is_file()
