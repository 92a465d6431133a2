"""Keys, budgets, rate limits, alerts and spend reports on both dialects."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from pointsman.store.budgets import BudgetStore, period_start
from pointsman.store.keys import KeyStore, hash_secret
from pointsman.store.records import UsageRecord
from pointsman.store.spend import SpendStore
from pointsman.store.tables import virtual_keys
from pointsman.store.usage_writer import UsageWriter

from .conftest import Database

T0 = datetime(2026, 5, 4, 9, 30, tzinfo=UTC)


async def test_orgs_teams_and_keys(db: Database) -> None:
    keys = KeyStore(db.engine)
    acme = await keys.create_org("acme", {"tier": "gold"})
    other = await keys.create_org("other")
    search = await keys.create_team(acme.id, "search")
    await keys.create_team(acme.id, "ads")
    with pytest.raises(IntegrityError):
        await keys.create_org("acme")
    assert [t.name for t in await keys.list_teams(acme.id)] == ["ads", "search"]
    assert [o.name for o in await keys.list_orgs()] == ["acme", "other"]

    issued = await keys.create_key(
        "ci", team_id=search.id, aliases=["fast", "smart", "fast"], data_class_ceiling="internal"
    )
    key = issued.key
    assert issued.secret.startswith("pm-") and len(issued.secret) == 46
    assert key.prefix == issued.secret[:10]
    assert key.org_id == acme.id  # taken from the team
    assert key.allowed_aliases == frozenset({"fast", "smart"})
    assert key.active()
    async with db.engine.connect() as conn:
        stored = await conn.scalar(
            select(virtual_keys.c.key_hash).where(virtual_keys.c.id == key.id)
        )
    assert stored == hash_secret(issued.secret) and issued.secret not in str(stored)

    found = await keys.find_key(issued.secret)
    assert found == key
    assert await keys.find_key(issued.secret + "x") is None
    with pytest.raises(ValueError, match="belongs to org"):
        await keys.create_key("bad", team_id=search.id, org_id=other.id)
    with pytest.raises(ValueError, match="unknown team"):
        await keys.create_key("bad", team_id="team_nope")


async def test_revoke_rotate_and_expiry(db: Database) -> None:
    keys = KeyStore(db.engine)
    past = datetime.now(UTC) - timedelta(seconds=1)
    expired = await keys.create_key("old", expires_at=past)
    plain = await keys.create_key("plain", user_id="ana", metadata={"app": "bot"})
    graceful = await keys.create_key("graceful", aliases=["fast"])
    assert [k.name for k in await keys.list_keys()] == ["plain", "graceful"]
    assert len(await keys.list_keys(include_inactive=True)) == 3
    assert not expired.key.active()

    rotated = await keys.rotate_key(plain.key.id)
    assert rotated.secret != plain.secret
    assert rotated.key.rotated_from == plain.key.id
    assert (rotated.key.user_id, rotated.key.metadata) == ("ana", {"app": "bot"})
    old = await keys.find_key(plain.secret)
    assert old is not None and not old.active()

    soft = await keys.rotate_key(graceful.key.id, grace=timedelta(minutes=5))
    still = await keys.find_key(graceful.secret)
    assert still is not None and still.active()  # grace period
    assert not still.active(datetime.now(UTC) + timedelta(minutes=6))
    assert soft.key.allowed_aliases == frozenset({"fast"})

    assert await keys.revoke_key(rotated.key.id)
    assert not await keys.revoke_key(rotated.key.id)  # already revoked
    assert not await keys.revoke_key("key_nope")
    with pytest.raises(ValueError, match="no active key"):
        await keys.rotate_key(rotated.key.id)
    assert {k.id for k in await keys.list_keys()} == {soft.key.id, graceful.key.id}


async def test_budgets_rate_limits_and_alerts(db: Database) -> None:
    budgets = BudgetStore(db.engine)
    first = await budgets.set_budget("team", "team_a", "monthly", 50_000_000)
    again = await budgets.set_budget(
        "team",
        "team_a",
        "monthly",
        80_000_000,
        hard=False,
        downgrade_alias="cheap",
        downgrade_threshold=0.8,
    )
    assert again.id == first.id and again.created_at == first.created_at
    assert (again.limit_micros, again.hard, again.downgrade_alias) == (80_000_000, False, "cheap")
    await budgets.set_budget("key", "key_1", "daily", 1_000_000)
    assert [b.scope_kind for b in await budgets.list_budgets()] == ["key", "team"]
    assert len(await budgets.list_budgets("team", "team_a")) == 1
    for bad in (
        {"scope_kind": "galaxy", "period": "daily"},
        {"scope_kind": "team", "period": "hourly"},
    ):
        with pytest.raises(ValueError):
            await budgets.set_budget(bad["scope_kind"], "x", bad["period"], 1)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="go together"):
        await budgets.set_budget("team", "t", "daily", 1, downgrade_alias="cheap")

    start = period_start("monthly", T0)
    assert start == datetime(2026, 5, 1, tzinfo=UTC)
    assert await budgets.mark_alert_sent(first.id, start, 70)
    assert not await budgets.mark_alert_sent(first.id, start, 70)  # once per period
    assert await budgets.mark_alert_sent(first.id, start, 100)
    assert await budgets.mark_alert_sent(
        first.id, period_start("monthly", T0 + timedelta(days=31)), 70
    )
    with pytest.raises(IntegrityError):
        await budgets.mark_alert_sent("bud_nope", start, 70)
    assert await budgets.delete_budget(first.id)
    assert not await budgets.delete_budget(first.id)

    limit = await budgets.set_rate_limit("key", "key_1", rpm=60, tpm=100_000)
    same = await budgets.set_rate_limit("key", "key_1", rpm=120)
    assert same.id == limit.id and (same.rpm, same.tpm) == (120, None)
    assert [r.rpm for r in await budgets.list_rate_limits()] == [120]
    assert await budgets.delete_rate_limit("key", "key_1")
    with pytest.raises(ValueError):
        await budgets.set_rate_limit("key", "k", rpm=0)


def test_period_starts() -> None:
    t = datetime(2026, 5, 7, 23, 59, tzinfo=UTC)  # a Thursday
    assert period_start("daily", t) == datetime(2026, 5, 7, tzinfo=UTC)
    assert period_start("weekly", t) == datetime(2026, 5, 4, tzinfo=UTC)
    assert period_start("monthly", t) == datetime(2026, 5, 1, tzinfo=UTC)
    assert period_start("total", t) == datetime(1970, 1, 1, tzinfo=UTC)


async def test_spend_reports(db: Database) -> None:
    writer = UsageWriter(db.engine)
    rows = [
        # (minutes after T0, team, key, model, feature, cost)
        (0, "team_a", "key_1", "gpt-4o", "search", 1000),
        (1, "team_a", "key_1", "sim-small", "search", 10),
        (2, "team_a", "key_2", "gpt-4o", "chat", 500),
        (3, "team_b", "key_3", "gpt-4o", None, 7000),
        (-60, "team_b", "key_3", "gpt-4o", None, 99_999),  # before the window
        (60 * 24, "team_a", "key_1", "gpt-4o", "search", 5),  # the next day
    ]
    for i, (minutes, team, key, model, feature, cost) in enumerate(rows):
        writer.submit(
            UsageRecord(
                request_id=f"r{i}",
                ts=T0 + timedelta(minutes=minutes),
                alias="a",
                team_id=team,
                key_id=key,
                model=model,
                feature=feature,
                cost_micros=cost,
                prompt_tokens=100,
                completion_tokens=10,
            )
        )
    assert await writer.drain() == 0
    spend = SpendStore(db.engine)

    by_team = await spend.report("team", T0)
    assert [(r.group, r.requests, r.cost_micros) for r in by_team] == [
        ("team_b", 1, 7000),
        ("team_a", 4, 1515),
    ]
    assert by_team[1].prompt_tokens == 400 and by_team[1].completion_tokens == 40
    until = T0 + timedelta(hours=1)
    assert [(r.group, r.cost_micros) for r in await spend.report("key", T0, until)] == [
        ("key_3", 7000),
        ("key_1", 1010),
        ("key_2", 500),
    ]
    assert [(r.group, r.cost_micros) for r in await spend.report("model", T0, until)] == [
        ("gpt-4o", 8500),
        ("sim-small", 10),
    ]
    assert [(r.group, r.cost_micros) for r in await spend.report("feature", T0, until)] == [
        (None, 7000),
        ("search", 1010),
        ("chat", 500),
    ]
    narrowed = await spend.report("model", T0, until, where={"team": "team_a"}, limit=1)
    assert [(r.group, r.cost_micros) for r in narrowed] == [("gpt-4o", 1500)]
    assert await spend.total(T0) == 8515
    assert await spend.total(T0, until, scope="team", scope_id="team_a") == 1510
    assert await spend.total(T0 - timedelta(days=1)) == 108_514
    with pytest.raises(ValueError, match="unknown grouping"):
        await spend.report("planet", T0)  # type: ignore[arg-type]

    daily = await spend.daily("day", date(2026, 5, 1))
    assert [(r.group, r.requests, r.cost_micros) for r in daily] == [
        ("2026-05-04", 5, 108_509),
        ("2026-05-05", 1, 5),
    ]
    by_team_days = await spend.daily("team", date(2026, 5, 5), date(2026, 5, 6))
    assert [(r.group, r.cost_micros) for r in by_team_days] == [("team_a", 5)]
