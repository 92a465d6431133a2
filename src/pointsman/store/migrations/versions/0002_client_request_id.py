"""The usage ledger keeps the client's own request id beside the gateway's.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-21

``usage_records.request_id`` is unique, and it used to be the client's ``x-request-id`` when
one was sent: a client that sent the same id twice had its second request's record skipped as a
duplicate, so spend went missing from the ledger. The gateway now always keys records by an id
of its own and keeps the client's in ``client_request_id``.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("usage_records", sa.Column("client_request_id", sa.String(100), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("usage_records") as batch:
        batch.drop_column("client_request_id")
