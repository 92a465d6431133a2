"""Request and response bodies of the admin API; the OpenAPI document is generated from these."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from msgspec import Meta, Struct

ScopeKind = Literal["org", "team", "key", "user", "feature"]
PeriodName = Literal["daily", "weekly", "monthly", "total"]
GroupBy = Literal["org", "team", "key", "user", "feature", "model", "alias", "deployment"]
Usd = Annotated[float, Meta(ge=0)]


class NewOrg(Struct, forbid_unknown_fields=True):
    name: Annotated[str, Meta(min_length=1, max_length=200)]
    metadata: dict[str, Any] = {}


class NewTeam(Struct, forbid_unknown_fields=True):
    org_id: str
    name: Annotated[str, Meta(min_length=1, max_length=200)]
    metadata: dict[str, Any] = {}


class NewKey(Struct, forbid_unknown_fields=True):
    name: Annotated[str, Meta(min_length=1, max_length=200)]
    org_id: str | None = None
    team_id: str | None = None
    user_id: str | None = None
    aliases: list[str] | None = None
    data_class_ceiling: Literal["public", "internal", "regulated", "restricted"] | None = None
    expires_at: datetime | None = None
    metadata: dict[str, Any] = {}


class Rotation(Struct, forbid_unknown_fields=True):
    grace_seconds: Annotated[float, Meta(ge=0)] = 0


class KeyView(Struct):
    id: str
    prefix: str
    name: str
    org_id: str | None
    team_id: str | None
    user_id: str | None
    aliases: list[str] | None
    data_class_ceiling: str | None
    expires_at: datetime | None
    revoked_at: datetime | None
    created_at: datetime


class IssuedKeyView(Struct):
    """The secret is shown here once and never again."""

    secret: str
    key: KeyView


class BudgetBody(Struct, forbid_unknown_fields=True):
    scope_kind: ScopeKind
    scope_id: str
    limit_usd: Usd
    period: PeriodName = "monthly"
    hard: bool = True
    downgrade_alias: str | None = None
    downgrade_threshold: Annotated[float, Meta(gt=0, le=1)] | None = None


class LimitBody(Struct, forbid_unknown_fields=True):
    scope_kind: ScopeKind
    scope_id: str
    rpm: Annotated[int, Meta(ge=1)] | None = None
    tpm: Annotated[int, Meta(ge=1)] | None = None
    cost_per_minute_usd: Annotated[float, Meta(gt=0)] | None = None


class SpendRowView(Struct):
    group: str | None
    requests: int
    prompt_tokens: int
    completion_tokens: int
    cost_usd: float
