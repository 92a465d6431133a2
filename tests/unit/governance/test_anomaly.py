"""The anomaly rule: today above 150 % of the trailing 7-day average (missing days are 0)."""

from __future__ import annotations

from datetime import date, timedelta

from pointsman.governance.anomaly import find_anomalies

TODAY = date(2026, 11, 21)


def days(values: list[tuple[int, int]], today: tuple[int, int]) -> dict[date, tuple[int, int]]:
    history = {TODAY - timedelta(days=n + 1): v for n, v in enumerate(values)}
    history[TODAY] = today
    return history


def test_spend_above_150_percent_of_average_alerts() -> None:
    history = {("team", "t1"): days([(100, 10)] * 7, (151, 10))}
    found = find_anomalies(history, TODAY)
    assert [(a.measure, a.today, a.average) for a in found] == [("spend", 151, 100.0)]


def test_exactly_150_percent_does_not_alert() -> None:
    assert find_anomalies({("team", "t1"): days([(100, 10)] * 7, (150, 15))}, TODAY) == []


def test_missing_days_count_as_zero() -> None:
    # 700 micro-USD on one day of the last seven: average 100, so 151 today is anomalous
    history = {("key", "k"): days([(700, 0)], (151, 0))}
    assert [a.measure for a in find_anomalies(history, TODAY)] == ["spend"]


def test_tokens_alone_can_be_anomalous_and_new_subjects_are_not() -> None:
    history = {
        ("org", "o"): days([(100, 1000)] * 7, (100, 1600)),
        ("org", "new"): {TODAY: (10**9, 10**9)},  # no history: nothing to compare with
    }
    found = find_anomalies(history, TODAY)
    assert [(a.subject, a.measure) for a in found] == [("o", "tokens")]


def test_minimum_cost_silences_tiny_spend() -> None:
    history = {("team", "t"): days([(1, 1)] * 7, (5, 5))}
    assert find_anomalies(history, TODAY, min_cost=1_000_000) == []
