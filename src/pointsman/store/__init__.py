"""Durable storage: keys, budgets and the spend ledger (SQLAlchemy async; SQLite or PostgreSQL).

Nothing here runs on the request path. The pieces:

* :mod:`~pointsman.store.settings`: the ``store:`` config section.
* :mod:`~pointsman.store.engine`: the async engine (SQLite WAL by default, PostgreSQL by URL).
* :mod:`~pointsman.store.migrate`: the packaged Alembic migrations, run programmatically.
* :mod:`~pointsman.store.tables`: the schema.
* :mod:`~pointsman.store.keys`, :mod:`~pointsman.store.budgets`, :mod:`~pointsman.store.spend`:
  small typed repositories.
* :mod:`~pointsman.store.usage_writer`: the batched, bounded usage-record writer.

The package imports nothing itself: the config reads :mod:`~pointsman.store.settings` without
loading SQLAlchemy, which a gateway with governance off never needs.
"""
