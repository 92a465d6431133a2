"""Run the store's Alembic migrations programmatically (``pointsman db upgrade``).

The Alembic environment and revisions ship inside the package (``store/migrations``), so an
installed gateway can migrate its own database with no ``alembic.ini`` and no checkout. Each
call runs on one connection of the given async engine, inside one transaction (PostgreSQL and
SQLite both have transactional DDL): a failed upgrade leaves the schema as it was.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, text
from sqlalchemy.ext.asyncio import AsyncEngine

__all__ = ["MIGRATIONS", "current", "head", "upgrade"]

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def alembic_config(connection: Connection | None = None) -> Config:
    """An in-memory Alembic config pointing at the packaged migrations."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


def head() -> str:
    """The newest revision id shipped with this version of Pointsman."""
    revision = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert revision is not None, "no migrations packaged"
    return revision


async def upgrade(engine: AsyncEngine, revision: str = "head", *, schema: str | None = None) -> str:
    """Migrate the database to ``revision`` (default: head); returns the revision now current.

    ``schema`` (PostgreSQL) is created first if missing; the engine's ``search_path`` must point
    at it (see :func:`pointsman.store.engine.create_engine`). Idempotent.
    """
    async with engine.begin() as connection:
        if schema and connection.dialect.name == "postgresql":
            await connection.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))
        await connection.run_sync(_upgrade, revision)
    now = await current(engine)
    assert now is not None
    return now


def _upgrade(connection: Connection, revision: str) -> None:
    command.upgrade(alembic_config(connection), revision)


async def current(engine: AsyncEngine) -> str | None:
    """The revision the database is at, or None for a database never migrated."""
    async with engine.connect() as connection:
        return await connection.run_sync(_current)


def _current(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()
