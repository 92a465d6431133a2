"""The ``governance:`` and ``state:`` sections of the config."""

from __future__ import annotations

from typing import Annotated

from msgspec import Meta, Struct, field

from pointsman.governance.budgets import BudgetSpec, Scope
from pointsman.governance.limits import LimitBook


class DowngradeRule(Struct, frozen=True, forbid_unknown_fields=True):
    """Above ``at`` (a share of the subject's budget), serve its requests with alias ``to``."""

    scope: Scope
    subject: str
    to: str
    at: Annotated[float, Meta(gt=0, le=1)] = 0.8


class StateSettings(Struct, forbid_unknown_fields=True, omit_defaults=True, frozen=True):
    """Where shared counters live: ``memory`` (one worker) or ``redis://host:6379/0``."""

    url: str = "memory"
    prefix: str = "pointsman:"


class GovernanceSettings(Struct, forbid_unknown_fields=True, omit_defaults=True, frozen=True):
    """Virtual keys, budgets, rate limits and the spend ledger.

    Budgets and limits given here apply beside the ones managed through the admin API.
    ``fail_open`` serves requests unmetered (and logs it) when the shared state is unreachable;
    the default refuses them, so a budget can never be overspent during a Redis outage.
    ``seed_seconds``: how often budget counters the state backend lacks (after a Redis restart)
    are seeded from the spend ledger; they are always seeded at start (``seeding.py``).
    """

    enabled: bool = True
    refresh_seconds: Annotated[float, Meta(gt=0, le=300)] = 1.0
    fail_open: bool = False
    auto_migrate: bool = True
    budgets: tuple[BudgetSpec, ...] = ()
    limits: LimitBook = field(default_factory=LimitBook)
    downgrades: tuple[DowngradeRule, ...] = ()
    alert_webhook: str | None = None
    anomaly_interval_seconds: Annotated[float, Meta(gt=0)] = 300.0
    anomaly_min_usd: Annotated[float, Meta(ge=0)] = 1.0
    seed_seconds: Annotated[float, Meta(gt=0)] = 60.0
