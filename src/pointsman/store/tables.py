"""The relational schema (SQLAlchemy Core): one :data:`metadata` shared by code and migrations.

Conventions: ids are short prefixed random strings (``key_…``); money is integer micro-USD in
``BIGINT`` columns (see :mod:`pointsman.governance.costs`); every timestamp is UTC and comes
back timezone-aware on both SQLite and PostgreSQL (:class:`UTCDateTime`). Scope columns that a
usage record may lack are stored as ``''`` in the rollup key so that the composite primary key
(and therefore the upsert) works on both dialects, which treat NULLs as distinct.

Any change here needs a new migration in ``store/migrations/versions``; a test compares the
migrated database with this metadata.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

__all__ = [
    "alerts_sent",
    "budgets",
    "daily_rollups",
    "metadata",
    "orgs",
    "rate_limits",
    "teams",
    "usage_records",
    "virtual_keys",
]

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

# SQLite autoincrements only an INTEGER PRIMARY KEY; PostgreSQL needs BIGINT for a ledger.
BigId = BigInteger().with_variant(Integer(), "sqlite")


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp stored in UTC and always returned timezone-aware (SQLite drops the zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store; pass an aware UTC datetime")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        assert isinstance(value, datetime)
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _id() -> Column[str]:
    return Column("id", String(40), primary_key=True)


def _created() -> Column[datetime]:
    return Column("created_at", UTCDateTime(), nullable=False)


orgs = Table(
    "orgs",
    metadata,
    _id(),
    Column("name", String(200), nullable=False, unique=True),
    Column("metadata", JSON, nullable=False),
    _created(),
)

teams = Table(
    "teams",
    metadata,
    _id(),
    Column("org_id", String(40), ForeignKey("orgs.id"), nullable=False),
    Column("name", String(200), nullable=False),
    Column("metadata", JSON, nullable=False),
    _created(),
    UniqueConstraint("org_id", "name"),
)

virtual_keys = Table(
    "virtual_keys",
    metadata,
    _id(),
    Column("key_hash", String(64), nullable=False, unique=True),  # sha256 hex of the secret
    Column("prefix", String(16), nullable=False),  # shown in listings: "pm-Ab3dE7x"
    Column("name", String(200), nullable=False),
    Column("org_id", String(40), ForeignKey("orgs.id"), nullable=True),
    Column("team_id", String(40), ForeignKey("teams.id"), nullable=True, index=True),
    Column("user_id", String(200), nullable=True),
    Column("allowed_aliases", JSON, nullable=True),  # null: every alias
    Column("data_class_ceiling", String(40), nullable=True),
    Column("expires_at", UTCDateTime(), nullable=True),
    Column("metadata", JSON, nullable=False),
    _created(),
    Column("revoked_at", UTCDateTime(), nullable=True),
    Column("rotated_from", String(40), nullable=True),
)

budgets = Table(
    "budgets",
    metadata,
    _id(),
    Column("scope_kind", String(16), nullable=False),  # org | team | key | user | feature
    Column("scope_id", String(200), nullable=False),
    Column("period", String(16), nullable=False),  # daily | weekly | monthly | total
    Column("limit_micros", BigInteger, nullable=False),
    Column("hard", Boolean, nullable=False),
    Column("downgrade_alias", String(200), nullable=True),
    Column("downgrade_threshold", Float, nullable=True),  # fraction of the limit, e.g. 0.8
    _created(),
    Column("updated_at", UTCDateTime(), nullable=False),
    UniqueConstraint("scope_kind", "scope_id", "period"),
)

rate_limits = Table(
    "rate_limits",
    metadata,
    _id(),
    Column("scope_kind", String(16), nullable=False),
    Column("scope_id", String(200), nullable=False),
    Column("rpm", Integer, nullable=True),
    Column("tpm", Integer, nullable=True),
    Column("cost_per_minute_micros", BigInteger, nullable=True),
    Column("updated_at", UTCDateTime(), nullable=False),
    UniqueConstraint("scope_kind", "scope_id"),
)

usage_records = Table(
    "usage_records",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("request_id", String(100), nullable=False, unique=True),
    Column("ts", UTCDateTime(), nullable=False, index=True),
    Column("org_id", String(40), nullable=True),
    Column("team_id", String(40), nullable=True),
    Column("key_id", String(40), nullable=True),
    Column("user_id", String(200), nullable=True),
    Column("feature", String(200), nullable=True),
    Column("alias", String(200), nullable=False),
    Column("deployment", String(300), nullable=True),
    Column("provider", String(100), nullable=True),
    Column("model", String(200), nullable=True),
    Column("prompt_tokens", Integer, nullable=False),
    Column("completion_tokens", Integer, nullable=False),
    Column("cached_tokens", Integer, nullable=False),
    Column("cache_write_tokens", Integer, nullable=False),
    Column("reasoning_tokens", Integer, nullable=False),
    Column("cost_micros", BigInteger, nullable=False),
    Column("catalog_version", String(40), nullable=False),
    Column("status", String(40), nullable=False),
    Column("cache_hit", Boolean, nullable=False),
    Column("latency_ms", Integer, nullable=False),
    Column("ttft_ms", Integer, nullable=True),
    # the client's x-request-id, when it sent one (request_id is always the gateway's own)
    Column("client_request_id", String(100), nullable=True),
    Index(None, "team_id", "ts"),
    Index(None, "key_id", "ts"),
)

daily_rollups = Table(
    "daily_rollups",
    metadata,
    Column("day", Date, primary_key=True),
    Column("org_id", String(40), primary_key=True),
    Column("team_id", String(40), primary_key=True),
    Column("key_id", String(40), primary_key=True),
    Column("model", String(200), primary_key=True),
    Column("feature", String(200), primary_key=True),
    Column("requests", BigInteger, nullable=False),
    Column("prompt_tokens", BigInteger, nullable=False),
    Column("completion_tokens", BigInteger, nullable=False),
    Column("cached_tokens", BigInteger, nullable=False),
    Column("reasoning_tokens", BigInteger, nullable=False),
    Column("cost_micros", BigInteger, nullable=False),
)

alerts_sent = Table(
    "alerts_sent",
    metadata,
    Column("budget_id", String(40), ForeignKey("budgets.id", ondelete="CASCADE"), primary_key=True),
    Column("period_start", UTCDateTime(), primary_key=True),
    Column("threshold", Integer, primary_key=True),  # percent of the limit: 70, 100, 120
    Column("sent_at", UTCDateTime(), nullable=False),
)
