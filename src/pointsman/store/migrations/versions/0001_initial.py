"""Initial schema: orgs, teams, virtual keys, budgets, rate limits, the usage ledger, rollups.

Revision ID: 0001
Revises:
Create Date: 2026-11-21

Self-contained on purpose: a migration must keep producing the same schema even after
``pointsman.store.tables`` moves on, so it imports nothing from Pointsman.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

UTC_TS = sa.DateTime(timezone=True)
BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "orgs",
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("metadata", sa.JSON(), nullable=False),
        sa.Column("created_at", UTC_TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_orgs"),
        sa.UniqueConstraint("name", name="uq_orgs_name"),
    )
    op.create_table(
        "teams",
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("org_id", sa.String(40), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("metadata", sa.JSON(), nullable=False),
        sa.Column("created_at", UTC_TS, nullable=False),
        sa.ForeignKeyConstraint(["org_id"], ["orgs.id"], name="fk_teams_org_id_orgs"),
        sa.PrimaryKeyConstraint("id", name="pk_teams"),
        sa.UniqueConstraint("org_id", "name", name="uq_teams_org_id_name"),
    )
    op.create_table(
        "virtual_keys",
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("key_hash", sa.String(64), nullable=False),
        sa.Column("prefix", sa.String(16), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("org_id", sa.String(40), nullable=True),
        sa.Column("team_id", sa.String(40), nullable=True),
        sa.Column("user_id", sa.String(200), nullable=True),
        sa.Column("allowed_aliases", sa.JSON(), nullable=True),
        sa.Column("data_class_ceiling", sa.String(40), nullable=True),
        sa.Column("expires_at", UTC_TS, nullable=True),
        sa.Column("metadata", sa.JSON(), nullable=False),
        sa.Column("created_at", UTC_TS, nullable=False),
        sa.Column("revoked_at", UTC_TS, nullable=True),
        sa.Column("rotated_from", sa.String(40), nullable=True),
        sa.ForeignKeyConstraint(["org_id"], ["orgs.id"], name="fk_virtual_keys_org_id_orgs"),
        sa.ForeignKeyConstraint(["team_id"], ["teams.id"], name="fk_virtual_keys_team_id_teams"),
        sa.PrimaryKeyConstraint("id", name="pk_virtual_keys"),
        sa.UniqueConstraint("key_hash", name="uq_virtual_keys_key_hash"),
    )
    op.create_index("ix_virtual_keys_team_id", "virtual_keys", ["team_id"])
    op.create_table(
        "budgets",
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("scope_kind", sa.String(16), nullable=False),
        sa.Column("scope_id", sa.String(200), nullable=False),
        sa.Column("period", sa.String(16), nullable=False),
        sa.Column("limit_micros", sa.BigInteger(), nullable=False),
        sa.Column("hard", sa.Boolean(), nullable=False),
        sa.Column("downgrade_alias", sa.String(200), nullable=True),
        sa.Column("downgrade_threshold", sa.Float(), nullable=True),
        sa.Column("created_at", UTC_TS, nullable=False),
        sa.Column("updated_at", UTC_TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_budgets"),
        sa.UniqueConstraint(
            "scope_kind", "scope_id", "period", name="uq_budgets_scope_kind_scope_id_period"
        ),
    )
    op.create_table(
        "alerts_sent",
        sa.Column("budget_id", sa.String(40), nullable=False),
        sa.Column("period_start", UTC_TS, nullable=False),
        sa.Column("threshold", sa.Integer(), nullable=False),
        sa.Column("sent_at", UTC_TS, nullable=False),
        sa.ForeignKeyConstraint(
            ["budget_id"],
            ["budgets.id"],
            name="fk_alerts_sent_budget_id_budgets",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("budget_id", "period_start", "threshold", name="pk_alerts_sent"),
    )
    op.create_table(
        "rate_limits",
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("scope_kind", sa.String(16), nullable=False),
        sa.Column("scope_id", sa.String(200), nullable=False),
        sa.Column("rpm", sa.Integer(), nullable=True),
        sa.Column("tpm", sa.Integer(), nullable=True),
        sa.Column("cost_per_minute_micros", sa.BigInteger(), nullable=True),
        sa.Column("updated_at", UTC_TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_rate_limits"),
        sa.UniqueConstraint("scope_kind", "scope_id", name="uq_rate_limits_scope_kind_scope_id"),
    )
    op.create_table(
        "usage_records",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("request_id", sa.String(100), nullable=False),
        sa.Column("ts", UTC_TS, nullable=False),
        sa.Column("org_id", sa.String(40), nullable=True),
        sa.Column("team_id", sa.String(40), nullable=True),
        sa.Column("key_id", sa.String(40), nullable=True),
        sa.Column("user_id", sa.String(200), nullable=True),
        sa.Column("feature", sa.String(200), nullable=True),
        sa.Column("alias", sa.String(200), nullable=False),
        sa.Column("deployment", sa.String(300), nullable=True),
        sa.Column("provider", sa.String(100), nullable=True),
        sa.Column("model", sa.String(200), nullable=True),
        sa.Column("prompt_tokens", sa.Integer(), nullable=False),
        sa.Column("completion_tokens", sa.Integer(), nullable=False),
        sa.Column("cached_tokens", sa.Integer(), nullable=False),
        sa.Column("cache_write_tokens", sa.Integer(), nullable=False),
        sa.Column("reasoning_tokens", sa.Integer(), nullable=False),
        sa.Column("cost_micros", sa.BigInteger(), nullable=False),
        sa.Column("catalog_version", sa.String(40), nullable=False),
        sa.Column("status", sa.String(40), nullable=False),
        sa.Column("cache_hit", sa.Boolean(), nullable=False),
        sa.Column("latency_ms", sa.Integer(), nullable=False),
        sa.Column("ttft_ms", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_usage_records"),
        sa.UniqueConstraint("request_id", name="uq_usage_records_request_id"),
    )
    op.create_index("ix_usage_records_ts", "usage_records", ["ts"])
    op.create_index("ix_usage_records_team_id_ts", "usage_records", ["team_id", "ts"])
    op.create_index("ix_usage_records_key_id_ts", "usage_records", ["key_id", "ts"])
    op.create_table(
        "daily_rollups",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("org_id", sa.String(40), nullable=False),
        sa.Column("team_id", sa.String(40), nullable=False),
        sa.Column("key_id", sa.String(40), nullable=False),
        sa.Column("model", sa.String(200), nullable=False),
        sa.Column("feature", sa.String(200), nullable=False),
        sa.Column("requests", sa.BigInteger(), nullable=False),
        sa.Column("prompt_tokens", sa.BigInteger(), nullable=False),
        sa.Column("completion_tokens", sa.BigInteger(), nullable=False),
        sa.Column("cached_tokens", sa.BigInteger(), nullable=False),
        sa.Column("reasoning_tokens", sa.BigInteger(), nullable=False),
        sa.Column("cost_micros", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint(
            "day", "org_id", "team_id", "key_id", "model", "feature", name="pk_daily_rollups"
        ),
    )


def downgrade() -> None:
    for table in (
        "daily_rollups",
        "usage_records",
        "rate_limits",
        "alerts_sent",
        "budgets",
        "virtual_keys",
        "teams",
        "orgs",
    ):
        op.drop_table(table)
