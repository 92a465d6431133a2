"""Budget periods: the UTC day, ISO week, calendar month, or all time, containing a moment."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum

__all__ = ["Period", "PeriodWindow", "period_window"]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class Period(StrEnum):
    DAILY = "daily"
    WEEKLY = "weekly"
    MONTHLY = "monthly"
    TOTAL = "total"


@dataclass(frozen=True, slots=True)
class PeriodWindow:
    label: str
    start: datetime
    end: datetime | None  # None: the period never ends


def period_window(period: Period, at: datetime) -> PeriodWindow:
    """The UTC period containing ``at`` (naive datetimes are taken as UTC)."""
    at = at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)
    day = at.replace(hour=0, minute=0, second=0, microsecond=0)
    if period is Period.DAILY:
        return PeriodWindow(f"d{day:%Y-%m-%d}", day, day + timedelta(days=1))
    if period is Period.WEEKLY:
        start = day - timedelta(days=day.weekday())
        year, week, _ = start.isocalendar()
        return PeriodWindow(f"w{year}-W{week:02d}", start, start + timedelta(days=7))
    if period is Period.MONTHLY:
        start = day.replace(day=1)
        end = (
            start.replace(year=start.year + 1, month=1)
            if start.month == 12
            else (start.replace(month=start.month + 1))
        )
        return PeriodWindow(f"m{start:%Y-%m}", start, end)
    return PeriodWindow("total", _EPOCH, None)
