"""Store fixtures: a migrated database on real SQLite (a temp file) and real PostgreSQL.

PostgreSQL runs at ``$POINTSMAN_TEST_PG_URL`` (default: the local ``test`` database, trust auth);
each test gets its own schema, dropped afterwards, so runs never see each other's rows. Tests
using it skip, saying why, when that server does not answer.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from pointsman.store.engine import create_engine
from pointsman.store.migrate import upgrade
from pointsman.store.settings import StoreSettings

PG_URL = os.environ.get(
    "POINTSMAN_TEST_PG_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
)


@dataclass
class Database:
    engine: AsyncEngine
    settings: StoreSettings
    url: str

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name


async def pg_reachable() -> str | None:
    """None when PostgreSQL answers at PG_URL, else the reason it does not."""
    url = make_url(PG_URL)
    try:
        _, writer = await asyncio.wait_for(
            asyncio.open_connection(url.host or "127.0.0.1", url.port or 5432), timeout=1.0
        )
    except (OSError, TimeoutError) as error:
        return f"PostgreSQL not reachable at {url.host}:{url.port} ({error})"
    writer.close()
    await writer.wait_closed()
    return None


@contextlib.asynccontextmanager
async def fresh_database(kind: str, tmp_path: Path) -> AsyncIterator[StoreSettings]:
    """Settings for an empty, unmigrated database of ``kind`` (sqlite or postgresql).

    PostgreSQL gets a schema of its own, dropped on exit; skips when the server is away.
    """
    if kind == "sqlite":
        yield StoreSettings(url=f"sqlite+aiosqlite:///{tmp_path / 'pointsman.db'}")
        return
    reason = await pg_reachable()
    if reason:
        pytest.skip(reason)
    schema = f"pm_test_{secrets.token_hex(6)}"
    try:
        yield StoreSettings(url=PG_URL, schema=schema)
    finally:
        admin = create_engine(StoreSettings(url=PG_URL))
        async with admin.begin() as conn:
            await conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        await admin.dispose()


DIALECTS = ["sqlite", "postgresql"]


@pytest.fixture(params=DIALECTS)
async def db(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Database]:
    """A migrated database, once per dialect."""
    async with fresh_database(request.param, tmp_path) as settings:
        engine = create_engine(settings)
        await upgrade(engine, schema=settings.schema)
        try:
            yield Database(engine, settings, settings.url)
        finally:
            await engine.dispose()
