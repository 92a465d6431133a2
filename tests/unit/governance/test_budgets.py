"""Budgets: periods, which budgets apply, reservation refusals, alerts, shares."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta, timezone

import msgspec
import pytest

from pointsman.errors import BudgetExceededError, RateLimitError
from pointsman.governance.budgets import (
    BudgetBook,
    BudgetLedger,
    BudgetSpec,
    Mode,
    Scope,
    Subjects,
    usd,
)
from pointsman.governance.periods import Period, period_window
from pointsman.state.memory import MemoryBackend

JUNE = datetime(2025, 6, 18, 15, 30, tzinfo=UTC)  # a Wednesday
WHO = Subjects(org="acme", team="research", key="k1", user="ann", feature="search")


class Clocks:
    """A wall clock for periods and a float clock for the backend, moved together."""

    def __init__(self, at: datetime = JUNE) -> None:
        self.at = at

    def wall(self) -> datetime:
        return self.at

    def seconds(self) -> float:
        return self.at.timestamp()


def ledger_for(*specs: BudgetSpec, clocks: Clocks | None = None, ttl: float = 60.0) -> BudgetLedger:
    clocks = clocks or Clocks()
    backend = MemoryBackend(clock=clocks.seconds)
    return BudgetLedger(backend, BudgetBook(specs), reservation_ttl=ttl, clock=clocks.wall)


def spec(scope: Scope, subject: str, usd_limit: float, **kw: object) -> BudgetSpec:
    return BudgetSpec(scope=scope, subject=subject, limit_usd=usd_limit, **kw)  # type: ignore[arg-type]


# --- periods -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("period", "at", "label", "start", "end"),
    [
        (Period.DAILY, JUNE, "d2025-06-18", datetime(2025, 6, 18), datetime(2025, 6, 19)),
        (Period.WEEKLY, JUNE, "w2025-W25", datetime(2025, 6, 16), datetime(2025, 6, 23)),
        # ISO week 1 of 2026 starts on Monday 29 December 2025.
        (
            Period.WEEKLY,
            datetime(2025, 12, 31, 23, 59),
            "w2026-W01",
            datetime(2025, 12, 29),
            datetime(2026, 1, 5),
        ),
        (Period.MONTHLY, JUNE, "m2025-06", datetime(2025, 6, 1), datetime(2025, 7, 1)),
        (
            Period.MONTHLY,
            datetime(2025, 12, 31, 23, 59),
            "m2025-12",
            datetime(2025, 12, 1),
            datetime(2026, 1, 1),
        ),
        (Period.TOTAL, JUNE, "total", datetime(1970, 1, 1), None),
    ],
)
def test_period_windows_start_in_utc(
    period: Period, at: datetime, label: str, start: datetime, end: datetime | None
) -> None:
    window = period_window(period, at)  # naive datetimes are UTC
    assert window.label == label
    assert window.start == start.replace(tzinfo=UTC)
    assert window.end == (end.replace(tzinfo=UTC) if end else None)


def test_periods_convert_other_time_zones_to_utc() -> None:
    # 00:30 on 1 March in UTC+2 is still February in UTC.
    at = datetime(2025, 3, 1, 0, 30, tzinfo=timezone(timedelta(hours=2)))
    assert period_window(Period.MONTHLY, at).label == "m2025-02"
    assert period_window(Period.DAILY, at).label == "d2025-02-28"


# --- specs and the book --------------------------------------------------------------------------


def test_caps_follow_the_mode() -> None:
    assert spec(Scope.TEAM, "t", 30.0).cap == 30_000_000
    assert spec(Scope.TEAM, "t", 20.0, mode=Mode.SOFT).cap == 24_000_000
    assert spec(Scope.TEAM, "t", 20.0, mode=Mode.SOFT, soft_ceiling=None).cap is None


def test_specs_decode_from_config_and_reject_unknown_fields() -> None:
    raw = {"scope": "team", "subject": "research", "limit_usd": 30, "period": "weekly"}
    decoded = msgspec.convert(raw, BudgetSpec)
    assert decoded.period is Period.WEEKLY and decoded.mode is Mode.HARD
    with pytest.raises(msgspec.ValidationError, match="limit"):
        msgspec.convert({**raw, "limit": 3}, BudgetSpec)
    with pytest.raises(msgspec.ValidationError):
        msgspec.convert({**raw, "limit_usd": 0}, BudgetSpec)


def test_exact_subjects_and_orgs_beat_wildcards() -> None:
    each_user = spec(Scope.USER, "*", 1.0, period=Period.DAILY)
    ann_in_acme = spec(Scope.USER, "ann", 5.0, period=Period.DAILY, org="acme")
    ann_anywhere = spec(Scope.USER, "ann", 3.0, period=Period.DAILY)
    monthly = spec(Scope.USER, "*", 20.0)
    other_org = spec(Scope.TEAM, "research", 9.0, org="globex")
    book = BudgetBook([each_user, ann_in_acme, ann_anywhere, monthly, other_org])
    assert set(book.applicable(WHO)) == {(ann_in_acme, "ann"), (monthly, "ann")}
    bob = Subjects(org="acme", user="bob")
    assert set(book.applicable(bob)) == {(each_user, "bob"), (monthly, "bob")}
    ann_elsewhere = Subjects(org="initech", user="ann")
    assert (ann_anywhere, "ann") in book.applicable(ann_elsewhere)
    assert book.applicable(Subjects()) == []


def test_duplicate_budgets_are_refused() -> None:
    with pytest.raises(ValueError, match="two monthly budgets for team 'research'"):
        BudgetBook([spec(Scope.TEAM, "research", 1.0), spec(Scope.TEAM, "research", 2.0)])


def test_levels_share_the_org_hash_tag_and_outlive_their_period() -> None:
    ledger = ledger_for(spec(Scope.ORG, "acme", 100.0), spec(Scope.FEATURE, "search", 5.0))
    levels = ledger.levels(WHO)
    assert [lv.ledger.key for lv in levels] == [
        "{acme}:budget:org:acme:m2025-06",
        "{acme}:budget:feature:search:m2025-06",
    ]
    july_8 = datetime(2025, 7, 8, tzinfo=UTC).timestamp()
    assert all(lv.ledger.expire_at == july_8 for lv in levels)
    assert [(t.label, t.amount) for t in levels[1].ledger.thresholds] == [
        ("70", 3_500_000),
        ("100", 5_000_000),
        ("120", 6_000_000),
    ]
    assert ledger_for(spec(Scope.KEY, "k9", 1.0)).levels(Subjects(key="k9"))[0].ledger.key == (
        "{_}:budget:key:k9:m2025-06"
    )


# --- reserve and settle --------------------------------------------------------------------------


async def test_refusal_names_the_budget_and_its_reset_and_reserves_nothing() -> None:
    ledger = ledger_for(spec(Scope.ORG, "acme", 100.0), spec(Scope.TEAM, "research", 0.05))
    first = await ledger.reserve(WHO, 30_000)
    with pytest.raises(BudgetExceededError) as refused:
        await ledger.reserve(WHO, 25_000)
    error = refused.value
    assert isinstance(error, RateLimitError) and error.status == 429
    assert error.type == "insufficient_quota" and error.code == "budget_exceeded"
    assert "team 'research' monthly budget (hard, 0.05 USD)" in error.message
    assert "0.00 USD spent and 0.03 USD reserved" in error.message
    assert "may cost up to 0.025 USD" in error.message
    assert "resets at 2025-07-01T00:00:00Z" in error.message
    assert error.headers["x-pointsman-budget-reset"] == "2025-07-01T00:00:00Z"
    wait = datetime(2025, 7, 1, tzinfo=UTC) - JUNE
    assert error.headers["Retry-After"] == str(int(wait.total_seconds()))
    usage = await ledger.usage(WHO)
    assert [state.reserved for _, state in usage] == [30_000, 30_000]  # org level untouched
    await ledger.release(first)
    assert (await ledger.reserve(WHO, 50_000)).levels


async def test_soft_budgets_overrun_to_their_ceiling() -> None:
    ledger = ledger_for(spec(Scope.TEAM, "research", 1.0, mode=Mode.SOFT))
    await ledger.reserve(WHO, 1_200_000)
    with pytest.raises(BudgetExceededError, match=r"soft, 1.00 USD, may overrun to 1.20 USD"):
        await ledger.reserve(WHO, 1)
    alerts_only = ledger_for(spec(Scope.TEAM, "research", 1.0, mode=Mode.SOFT, soft_ceiling=None))
    reservation = await alerts_only.reserve(WHO, 50_000_000)
    assert reservation.share == 50.0


async def test_total_budgets_never_reset() -> None:
    ledger = ledger_for(spec(Scope.KEY, "k1", 0.01, period=Period.TOTAL))
    with pytest.raises(BudgetExceededError) as refused:
        await ledger.reserve(WHO, 10_001)
    assert "does not reset" in refused.value.message
    assert "Retry-After" not in refused.value.headers


async def test_settle_records_actual_and_alerts_once_per_period() -> None:
    clocks = Clocks()
    ledger = ledger_for(spec(Scope.TEAM, "research", 1.0), clocks=clocks)
    reservation = await ledger.reserve(WHO, 800_000)
    assert reservation.share == pytest.approx(0.8)
    settled = await ledger.settle(reservation, 900_000)  # above the estimate: recorded anyway
    assert [(a.budget, a.percent) for a in settled.alerts] == [
        ("team 'research' monthly budget", 70)
    ]
    assert settled.states[0].spent == 900_000 and settled.states[0].reserved == 0
    again = await ledger.settle(reservation, 900_000)  # settling twice changes nothing
    assert again.alerts == () and (await ledger.usage(WHO))[0][1].spent == 900_000
    more = await ledger.settle(await ledger.reserve(WHO, 50_000), 400_000)
    assert [a.percent for a in more.alerts] == [100, 120]
    assert more.alerts[0].spent == 1_300_000 and more.alerts[0].period == "m2025-06"
    clocks.at = datetime(2025, 7, 1, 0, 0, 1, tzinfo=UTC)  # a new period starts at zero
    assert await ledger.highest_share(WHO) == 0.0
    july = await ledger.settle(await ledger.reserve(WHO, 700_000), 700_000)
    assert [a.percent for a in july.alerts] == [70]


async def test_a_settle_after_the_hold_lapsed_is_recorded_and_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clocks = Clocks()
    ledger = ledger_for(spec(Scope.TEAM, "research", 1.0), clocks=clocks, ttl=30.0)
    reservation = await ledger.reserve(WHO, 600_000)
    clocks.at += timedelta(seconds=31)
    assert (await ledger.usage(WHO))[0][1].reserved == 0  # a dead replica's hold is gone
    with caplog.at_level(logging.WARNING, logger="pointsman.budgets"):
        settled = await ledger.settle(reservation, 500_000)
    assert settled.lapsed == ("team 'research' monthly budget",)
    assert settled.states[0].spent == 500_000
    assert "settled after its hold expired" in caplog.text


async def test_no_budget_means_a_free_empty_reservation() -> None:
    ledger = ledger_for(spec(Scope.TEAM, "other", 1.0))
    reservation = await ledger.reserve(WHO, 10**12)
    assert reservation.levels == () and reservation.share == 0.0
    assert (await ledger.settle(reservation, 10**12)).alerts == ()
    assert await ledger.usage(WHO) == []
    with pytest.raises(ValueError, match="negative"):
        await ledger.reserve(WHO, -1)


async def test_highest_share_reports_the_fullest_level() -> None:
    ledger = ledger_for(spec(Scope.ORG, "acme", 10.0), spec(Scope.KEY, "k1", 1.0))
    await ledger.reserve(WHO, 850_000)
    assert await ledger.highest_share(WHO) == pytest.approx(0.85)


def test_usd_is_exact() -> None:
    assert usd(30_000_000) == "30.00 USD"
    assert usd(1_234_567_890) == "1,234.56789 USD"
    assert usd(150) == "0.00015 USD"
    assert usd(25_000) == "0.025 USD"
    assert usd(0) == "0.00 USD"
    assert usd(-1_500_000) == "-1.50 USD"


async def test_replacing_the_budgets_takes_effect_at_once() -> None:
    ledger = ledger_for(spec(Scope.TEAM, "research", 1.0))
    assert len(ledger.levels(WHO)) == 1
    ledger.book.replace([spec(Scope.TEAM, "research", 0.01), spec(Scope.KEY, "k1", 5.0)])
    assert [lv.spec.limit for lv in ledger.levels(WHO)] == [10_000, 5_000_000]
    with pytest.raises(BudgetExceededError):
        await ledger.reserve(WHO, 10_001)


def test_long_client_supplied_names_are_hashed_in_keys() -> None:
    ledger = ledger_for(spec(Scope.USER, "*", 1.0))
    (level,) = ledger.levels(Subjects(org="acme", user="u" * 10_000))
    assert level.subject == "u" * 10_000  # messages still name the user as sent
    assert level.ledger.key.startswith("{acme}:budget:user:sha256-")
    assert len(level.ledger.key) < 100
    assert level.name == f"user '{'u' * 60}...' monthly budget"
