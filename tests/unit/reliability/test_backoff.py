"""Exponential backoff with full jitter, Retry-After, and the providers' reset headers."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest
from multidict import CIMultiDict

from pointsman.providers.http import parse_duration, parse_retry_after, rate_limit_reset
from pointsman.reliability.backoff import backoff_delay, retry_wait
from pointsman.reliability.settings import RetrySettings


def test_full_jitter_stays_under_the_exponential_ceiling() -> None:
    rng = random.Random(1)
    for retry, ceiling in ((1, 0.2), (2, 0.4), (3, 0.8), (4, 1.6), (5, 2.0), (40, 2.0)):
        draws = [backoff_delay(retry, 0.2, 2.0, rng) for _ in range(2000)]
        assert all(0 <= d <= ceiling for d in draws)
        # Full jitter spreads over the whole range, not around the ceiling.
        assert min(draws) < 0.05 * ceiling
        assert max(draws) > 0.95 * ceiling
        assert abs(sum(draws) / len(draws) - ceiling / 2) < 0.05 * ceiling


def test_retry_counts_from_one() -> None:
    with pytest.raises(ValueError):
        backoff_delay(0, 0.2, 2.0, random.Random())


def test_retry_after_wins_when_longer() -> None:
    settings = RetrySettings(backoff_base=0.1, backoff_max=0.1)
    rng = random.Random(2)
    assert retry_wait(1, 0.75, settings, rng) == 0.75
    assert retry_wait(1, None, settings, rng) <= 0.1
    assert retry_wait(1, 0.0, settings, rng) <= 0.1


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("1s", 1.0), ("6m0s", 360.0), ("20ms", 0.02), ("1h2m3.5s", 3723.5), ("59.9s", 59.9)],
)
def test_openai_durations(text: str, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "abc", "1s2", "s", "1d"])
def test_bad_durations(text: str) -> None:
    assert parse_duration(text) is None


def test_retry_after_headers_in_order_of_precedence() -> None:
    assert parse_retry_after(CIMultiDict({"retry-after-ms": "1500", "Retry-After": "9"})) == 1.5
    assert parse_retry_after(CIMultiDict({"retry-after": "7"})) == 7.0
    date = (datetime.now(UTC) + timedelta(seconds=30)).strftime("%a, %d %b %Y %H:%M:%S GMT")
    assert 28 <= (parse_retry_after(CIMultiDict({"Retry-After": date})) or 0) <= 30
    assert parse_retry_after(CIMultiDict({"Retry-After": "soon"})) is None
    assert parse_retry_after(CIMultiDict()) is None


def test_openai_reset_of_the_exhausted_limit() -> None:
    headers = CIMultiDict(
        {
            "x-ratelimit-remaining-requests": "0",
            "x-ratelimit-reset-requests": "1s",
            "x-ratelimit-remaining-tokens": "5000",
            "x-ratelimit-reset-tokens": "6m0s",
        }
    )
    assert parse_retry_after(headers) == 1.0  # tokens are not exhausted: their reset is moot
    headers["x-ratelimit-remaining-tokens"] = "0"
    assert parse_retry_after(headers) == 360.0  # both exhausted: wait for the later one


def test_reset_without_remaining_counts_every_limit() -> None:
    headers = CIMultiDict({"x-ratelimit-reset-requests": "2s", "x-ratelimit-reset-tokens": "3s"})
    assert rate_limit_reset(headers) == 3.0


def test_anthropic_reset_times() -> None:
    soon = (datetime.now(UTC) + timedelta(seconds=20)).isoformat().replace("+00:00", "Z")
    later = (datetime.now(UTC) + timedelta(seconds=50)).isoformat()
    headers = CIMultiDict(
        {
            "anthropic-ratelimit-requests-remaining": "0",
            "anthropic-ratelimit-requests-reset": soon,
            "anthropic-ratelimit-tokens-remaining": "100",
            "anthropic-ratelimit-tokens-reset": later,
        }
    )
    assert 18 <= (rate_limit_reset(headers) or 0) <= 20
    headers["anthropic-ratelimit-requests-reset"] = "not a time"
    assert rate_limit_reset(headers) is None
