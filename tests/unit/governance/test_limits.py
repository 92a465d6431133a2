"""Rate limits: which limits apply, refusals and their headers, settling actual usage."""

from __future__ import annotations

import msgspec
import pytest

from pointsman.errors import RateLimitError
from pointsman.governance.limits import LimitBook, LimitSpec, RateLimiter, format_reset
from pointsman.state.base import Bucket, Slots, Window
from pointsman.state.memory import MemoryBackend

EPOCH = 1_700_000_000.0


class Clock:
    def __init__(self) -> None:
        self.now = EPOCH

    def __call__(self) -> float:
        return self.now


def limiter(book: LimitBook, clock: Clock | None = None) -> RateLimiter:
    return RateLimiter(MemoryBackend(clock=clock or Clock()), book)


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0.0, "0ms"),
        (0.0201, "21ms"),
        (1.0, "1s"),
        (1.5, "1.5s"),
        (59.9994, "59.999s"),
        (360.0, "6m0s"),
        (3723.25, "1h2m3.25s"),
    ],
)
def test_durations_are_written_like_openai(seconds: float, text: str) -> None:
    assert format_reset(seconds) == text


def test_wildcards_apply_to_subjects_without_their_own_limits() -> None:
    default, vip = LimitSpec(rpm=10), LimitSpec(rpm=1000)
    book = LimitBook(keys={"*": default, "vip": vip}, models={"smart": LimitSpec(tpm=5)})
    assert book.applicable("k1", "t1", "fast") == [("key", "k1", default)]
    assert book.applicable("vip", None, "smart") == [
        ("key", "vip", vip),
        ("model", "smart", LimitSpec(tpm=5)),
    ]


def test_specs_validate_from_config() -> None:
    book = msgspec.convert({"keys": {"k1": {"rpm": 60, "usd_per_second": 0.5}}}, LimitBook)
    assert book.keys["k1"] == LimitSpec(rpm=60, usd_per_second=0.5)
    with pytest.raises(msgspec.ValidationError):
        msgspec.convert({"keys": {"k1": {"rpm": 0}}}, LimitBook)
    with pytest.raises(msgspec.ValidationError):
        msgspec.convert({"teams": {"t": {"rps": 1}}}, LimitBook)


def test_plan_builds_one_check_per_limit_under_one_hash_tag() -> None:
    spec = LimitSpec(rpm=60, tpm=1000, concurrent=4, usd_per_second=0.01)
    checks, roles = limiter(LimitBook(teams={"t1": spec})).plan(
        "k1", "t1", None, tokens=120, cost=3_000
    )
    assert checks == (
        Window("{rl}:team:t1:rpm", 60, 60.0, 1),
        Window("{rl}:team:t1:tpm", 1000, 60.0, 120),
        Slots("{rl}:team:t1:conc", 4, 900.0),
        Bucket("{rl}:team:t1:usd", 600_000.0, 10_000.0, 3_000.0),  # burst: a minute of refill
    )
    assert [r.kind for r in roles] == ["requests", "tokens", "concurrent", "cost"]


async def test_rpm_refusal_names_the_limit_and_says_when_to_retry() -> None:
    clock = Clock()
    rl = limiter(LimitBook(keys={"k1": LimitSpec(rpm=3)}), clock)
    for _ in range(3):
        await rl.admit(key="k1", team=None, model=None, tokens=10)
        clock.now += 10
    with pytest.raises(RateLimitError) as refused:
        await rl.admit(key="k1", team=None, model=None, tokens=10)
    error = refused.value
    assert error.status == 429 and error.code == "rate_limit_exceeded"
    assert error.message == "Rate limit reached for key 'k1': 3 requests per minute. Retry in 30s."
    assert error.headers["Retry-After"] == "30" and error.headers["retry-after-ms"] == "30000"
    assert error.headers["x-ratelimit-limit-requests"] == "3"
    assert error.headers["x-ratelimit-remaining-requests"] == "0"
    assert error.headers["x-ratelimit-reset-requests"] == "50s"  # the newest entry leaves last


async def test_headers_report_the_tightest_limits() -> None:
    book = LimitBook(
        keys={"k1": LimitSpec(rpm=100, tpm=10_000)},
        teams={"t1": LimitSpec(rpm=5, tpm=50_000)},
    )
    ticket = await limiter(book).admit(key="k1", team="t1", model=None, tokens=1000)
    assert ticket.headers() == {
        "x-ratelimit-limit-requests": "5",
        "x-ratelimit-remaining-requests": "4",
        "x-ratelimit-reset-requests": "1m0s",
        "x-ratelimit-limit-tokens": "10000",
        "x-ratelimit-remaining-tokens": "9000",
        "x-ratelimit-reset-tokens": "1m0s",
    }


async def test_tpm_admits_on_the_estimate_and_keeps_the_actual() -> None:
    rl = limiter(LimitBook(keys={"k1": LimitSpec(tpm=1000)}))
    first = await rl.admit(key="k1", team=None, model=None, tokens=800)
    with pytest.raises(RateLimitError, match="1000 tokens per minute"):
        await rl.admit(key="k1", team=None, model=None, tokens=800)
    await rl.settle(first, tokens=150, cost=0)
    second = await rl.admit(key="k1", team=None, model=None, tokens=800)
    assert second.headers()["x-ratelimit-remaining-tokens"] == "50"


async def test_a_request_larger_than_the_limit_is_refused_for_good() -> None:
    rl = limiter(LimitBook(models={"smart": LimitSpec(tpm=1000)}))
    with pytest.raises(RateLimitError) as refused:
        await rl.admit(key=None, team=None, model="smart", tokens=5000)
    error = refused.value
    assert error.code == "request_too_large" and "Retry-After" not in error.headers
    assert "model 'smart' limit of 1000 tokens per minute: it needs 5000 tokens" in error.message


async def test_concurrency_slots_free_when_requests_end() -> None:
    rl = limiter(LimitBook(keys={"k1": LimitSpec(concurrent=2)}))
    first = await rl.admit(key="k1", team=None, model=None, tokens=0)
    await rl.admit(key="k1", team=None, model=None, tokens=0)
    with pytest.raises(RateLimitError, match="2 concurrent requests") as refused:
        await rl.admit(key="k1", team=None, model=None, tokens=0)
    assert refused.value.headers["Retry-After"] == "1"
    await rl.settle(first, tokens=0, cost=0)
    await rl.admit(key="k1", team=None, model=None, tokens=0)


async def test_cost_bucket_charges_estimates_and_corrects_to_actuals() -> None:
    clock = Clock()
    # 0.001 USD/s with a 0.01 USD burst: 1,000 micro-USD per second, 10,000 at most.
    book = LimitBook(keys={"k1": LimitSpec(usd_per_second=0.001, burst_usd=0.01)})
    rl = limiter(book, clock)
    ticket = await rl.admit(key="k1", team=None, model=None, tokens=0, cost=9_000)
    with pytest.raises(RateLimitError) as refused:
        await rl.admit(key="k1", team=None, model=None, tokens=0, cost=2_000)
    assert "0.001 USD per second (burst 0.01 USD)" in refused.value.message
    assert refused.value.headers["retry-after-ms"] == "1000"
    await rl.settle(ticket, tokens=0, cost=3_000)  # refund 6,000
    await rl.admit(key="k1", team=None, model=None, tokens=0, cost=7_000)
    with pytest.raises(RateLimitError, match="Request too large"):
        await rl.admit(key="k1", team=None, model=None, tokens=0, cost=10_001)


async def test_no_limits_means_an_empty_ticket() -> None:
    rl = limiter(LimitBook())
    ticket = await rl.admit(key="k1", team="t1", model="m", tokens=10**9, cost=10**12)
    assert ticket.checks == () and ticket.headers() == {}
    await rl.settle(ticket, tokens=1, cost=1)
    await rl.renew(ticket)


async def test_renew_extends_concurrency_leases() -> None:
    clock = Clock()
    rl = RateLimiter(
        MemoryBackend(clock=clock), LimitBook(keys={"k1": LimitSpec(concurrent=1)}), lease_ttl=10.0
    )
    ticket = await rl.admit(key="k1", team=None, model=None, tokens=0)
    clock.now += 8
    await rl.renew(ticket)
    clock.now += 8  # 16 s after admission, 8 after renewal: still held
    with pytest.raises(RateLimitError):
        await rl.admit(key="k1", team=None, model=None, tokens=0)
    clock.now += 2.5
    await rl.admit(key="k1", team=None, model=None, tokens=0)
