"""Durable storage: keys, budgets and the spend ledger (SQLAlchemy async; SQLite or PostgreSQL).

Nothing here runs on the request path. The pieces:

* :mod:`~pointsman.store.settings`: the ``store:`` config section.
* :mod:`~pointsman.store.engine`: the async engine (SQLite WAL by default, PostgreSQL by URL).
* :mod:`~pointsman.store.migrate`: the packaged Alembic migrations, run programmatically.
* :mod:`~pointsman.store.tables`: the schema.
* :mod:`~pointsman.store.keys`, :mod:`~pointsman.store.budgets`, :mod:`~pointsman.store.spend`:
  small typed repositories.
* :mod:`~pointsman.store.usage_writer`: the batched, bounded usage-record writer.
"""

from pointsman.store.budgets import Budget, BudgetStore, RateLimit, period_start
from pointsman.store.engine import create_engine
from pointsman.store.keys import IssuedKey, KeyStore, Org, Team, VirtualKey
from pointsman.store.migrate import current, head, upgrade
from pointsman.store.records import UsageRecord
from pointsman.store.settings import StoreSettings, UsageWriterSettings
from pointsman.store.spend import SpendRow, SpendStore
from pointsman.store.usage_writer import FlushReport, UsageWriter, UsageWriterStats

__all__ = [
    "Budget",
    "BudgetStore",
    "FlushReport",
    "IssuedKey",
    "KeyStore",
    "Org",
    "RateLimit",
    "SpendRow",
    "SpendStore",
    "StoreSettings",
    "Team",
    "UsageRecord",
    "UsageWriter",
    "UsageWriterSettings",
    "UsageWriterStats",
    "VirtualKey",
    "create_engine",
    "current",
    "head",
    "period_start",
    "upgrade",
]
