"""Alembic environment for Pointsman's store.

Migrations run only through :mod:`pointsman.store.migrate`, which hands over an open connection
(``config.attributes["connection"]``); there is no ``alembic.ini`` and no offline mode.
"""

from __future__ import annotations

from alembic import context

from pointsman.store.tables import metadata

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run Pointsman migrations with `pointsman db upgrade`")

context.configure(
    connection=connection,
    target_metadata=metadata,
    # SQLite cannot ALTER most things in place; batch mode rebuilds tables when a migration needs.
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
