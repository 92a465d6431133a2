"""Build the async engine for a :class:`~pointsman.store.settings.StoreSettings`.

SQLite (aiosqlite) is the zero-setup default. Every connection gets ``journal_mode=WAL`` (readers
never block the writer), ``synchronous=FULL`` (a committed batch survives power loss, not just a
process crash; one fsync per batch is cheap at one batch per second), ``foreign_keys=ON`` and a
busy timeout so that short write overlaps wait instead of failing.

PostgreSQL (asyncpg) takes a normal pool; ``schema`` puts Pointsman's tables (and Alembic's
version table) into that schema through the connection's ``search_path``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from pointsman.store.settings import StoreSettings

__all__ = ["create_engine", "dialect_of"]

SQLITE_BUSY_TIMEOUT_MS = 30_000


def create_engine(settings: StoreSettings, *, url: str | None = None) -> AsyncEngine:
    """A new engine for ``settings`` (``url`` overrides ``settings.url``, already resolved).

    For a SQLite file, creates its parent directory. The caller owns the engine and must
    ``await engine.dispose()`` at shutdown.
    """
    target = make_url(url or settings.resolved_url())
    if target.get_backend_name() == "sqlite":
        database = target.database or ""
        if database and database != ":memory:" and not database.startswith("file:"):
            Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(target, echo=settings.echo)
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    connect_args: dict[str, Any] = {}
    if settings.schema:
        connect_args["server_settings"] = {"search_path": settings.schema}
    return create_async_engine(
        target,
        echo=settings.echo,
        pool_size=settings.pool_size,
        pool_pre_ping=True,
        connect_args=connect_args,
    )


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    finally:
        cursor.close()


def dialect_of(engine: AsyncEngine) -> str:
    """``sqlite`` or ``postgresql``."""
    return engine.dialect.name
