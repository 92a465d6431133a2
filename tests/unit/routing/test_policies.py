"""Every policy with injected randomness and signals: weighted (canary, sticky), least latency,
least busy, cheapest with AIMD, task map, tiered complexity."""

from __future__ import annotations

import random
from collections import Counter

import msgspec
import pytest

from pointsman.config import ProviderConfig
from pointsman.core.pipeline import Attempt, Caller, RequestContext
from pointsman.core.types import ChatRequest
from pointsman.errors import InvalidRequestError
from pointsman.providers.openai import OpenAIProvider
from pointsman.routing.classifier import ComplexityClassifier
from pointsman.routing.composite import TaskMap, Tiered, load_classifier, strong_share
from pointsman.routing.policies import Aimd, Cheapest, LeastBusy, LeastLatency, Weighted, overloaded
from pointsman.routing.settings import CheapestPolicy, TaskMapPolicy, TieredPolicy, WeightedPolicy
from pointsman.routing.table import Deployment

PROVIDER = OpenAIProvider("p", ProviderConfig(protocol="openai", base_url="http://p/v1"))


def deployments(*spec: tuple[str, float]) -> list[Deployment]:
    return [Deployment(PROVIDER, model, weight) for model, weight in spec]


def ctx(
    text: str = "hi", headers: dict[str, str] | None = None, key: str = "k1", **fields: object
) -> RequestContext:
    body = {"model": "a", "messages": [{"role": "user", "content": text}], **fields}
    chat = msgspec.convert(body, ChatRequest)
    caller = Caller(key, key)
    return RequestContext("r", "chat", body, headers or {}, chat=chat, alias="a", caller=caller)


class Signals:
    def __init__(self, latency: dict[str, float] | None = None, busy: dict[str, int] | None = None):
        self.latencies = latency or {}
        self.counts = busy or {}

    def latency(self, name: str) -> float | None:
        return self.latencies.get(name)

    def busy(self, name: str) -> int:
        return self.counts.get(name, 0)


def firsts(policy: object, pool: list[Deployment], n: int, **kw: object) -> Counter[str]:
    return Counter(policy.order(pool, ctx(**kw))[0].model for _ in range(n))  # type: ignore[attr-defined]


# -- weighted -------------------------------------------------------------------------------


def test_weighted_canary_sends_its_share_to_the_challenger() -> None:
    policy = Weighted("a", None, random.Random(3))
    counts = firsts(policy, deployments(("incumbent", 90), ("challenger", 10)), 20_000)
    assert 0.085 < counts["challenger"] / 20_000 < 0.115


def test_weighted_keeps_every_deployment_and_weight_zero_last() -> None:
    policy = Weighted("a", None, random.Random(1))
    pool = deployments(("a", 1), ("b", 1), ("z", 0))
    for _ in range(100):
        order = [d.model for d in policy.order(pool, ctx())]
        assert sorted(order) == ["a", "b", "z"] and order[-1] == "z"


def test_sticky_by_key_pins_each_key_and_still_splits_keys() -> None:
    policy = Weighted("a", WeightedPolicy(sticky="key"), random.Random(0))
    pool = deployments(("incumbent", 90), ("challenger", 10))
    for key in ("alice", "bob", "carol"):
        assert len(firsts(policy, pool, 20, key=key)) == 1  # the same pick every time
    per_key = Counter(policy.order(pool, ctx(key=f"key-{i}"))[0].model for i in range(5_000))
    assert 0.08 < per_key["challenger"] / 5_000 < 0.12


def test_sticky_by_session_header() -> None:
    policy = Weighted("a", WeightedPolicy(sticky="session", session_header="x-s"), random.Random(0))
    pool = deployments(("a", 1), ("b", 1))
    for session in ("s1", "s2", "s3", "s4"):
        assert len(firsts(policy, pool, 20, headers={"x-s": session})) == 1
    assert len(firsts(policy, pool, 200)) == 2  # no header: random again


# -- least latency --------------------------------------------------------------------------


def test_least_latency_prefers_the_lower_ewma_of_two_random_choices() -> None:
    pool = deployments(("fast", 1), ("mid", 1), ("slow", 1))
    signals = Signals({"p/fast": 0.05, "p/mid": 0.2, "p/slow": 0.8})
    counts = firsts(LeastLatency(signals, random.Random(2)), pool, 9_000)
    # P2C: the slowest never wins; the fastest wins whenever drawn (2 pairs of 3).
    assert counts["slow"] == 0
    assert 0.63 < counts["fast"] / 9_000 < 0.70
    order = LeastLatency(signals, random.Random(2)).order(pool, ctx())
    assert [d.model for d in order[1:]] == sorted(
        (d.model for d in order[1:]), key=["fast", "mid", "slow"].index
    )


def test_least_latency_explores_deployments_without_samples() -> None:
    pool = deployments(("known", 1), ("new", 1))
    counts = firsts(LeastLatency(Signals({"p/known": 0.1}), random.Random(0)), pool, 100)
    assert counts["new"] == 100  # no sample counts as 0 s


def test_least_latency_leaves_weight_zero_as_fallback() -> None:
    pool = deployments(("a", 1), ("spare", 0))
    order = LeastLatency(Signals({"p/a": 9.0, "p/spare": 0.001}), random.Random(0)).order(
        pool, ctx()
    )
    assert [d.model for d in order] == ["a", "spare"]


# -- least busy -----------------------------------------------------------------------------


def test_least_busy_takes_the_idlest_and_breaks_ties_at_random() -> None:
    pool = deployments(("a", 1), ("b", 1), ("c", 1))
    busy = LeastBusy(Signals(busy={"p/a": 3, "p/b": 0, "p/c": 1}), random.Random(0))
    assert [d.model for d in busy.order(pool, ctx())] == ["b", "c", "a"]
    tied = LeastBusy(Signals(), random.Random(0))
    assert len(firsts(tied, pool, 300)) == 3


# -- cheapest with AIMD ---------------------------------------------------------------------

PRICES = {"p/cheap": 0.13, "p/mid": 0.8, "p/dear": 18.0}


def cheapest(rng: random.Random) -> Cheapest:
    return Cheapest(CheapestPolicy(), lambda d: PRICES.get(d.name), rng)


def attempt(name: str, outcome: str = "ok", cause: str | None = None) -> Attempt:
    return Attempt(name, 1, 0.0, outcome=outcome, cause=cause)


def test_cheapest_sends_everything_to_the_cheapest_healthy_deployment() -> None:
    pool = deployments(("dear", 1), ("unpriced", 1), ("cheap", 1), ("mid", 1))
    policy = cheapest(random.Random(0))
    assert firsts(policy, pool, 200) == {"cheap": 200}
    assert [d.model for d in policy.order(pool, ctx())] == ["cheap", "mid", "dear", "unpriced"]


def test_aimd_shares() -> None:
    aimd = Aimd(increase=0.1, decrease=0.5, floor=0.1)
    aimd.overload("x")
    aimd.overload("x")
    assert aimd.share("x") == pytest.approx(0.25)
    for _ in range(3):
        aimd.overload("x")
    assert aimd.share("x") == 0.1  # floor
    for _ in range(20):
        aimd.success("x")
    assert aimd.share("x") == 1.0


@pytest.mark.parametrize(
    ("outcome", "cause", "verdict"),
    [
        ("ok", None, False),
        ("upstream_rate_limited", "http_429", True),
        ("upstream_unavailable", "http_503", True),
        ("upstream_timeout", "timeout_ttft", True),
        ("upstream_unavailable", "connection", True),
        ("upstream_bad_request", "http_400", None),
        ("cancelled", "cancelled", None),
        ("skipped", "breaker_open", None),
    ],
)
def test_what_counts_as_overload(outcome: str, cause: str | None, verdict: bool | None) -> None:
    assert overloaded(attempt("p/x", outcome, cause)) is verdict


def test_cheapest_sheds_load_gradually_and_wins_it_back_without_flapping() -> None:
    """Cheap deployment rate limits 30 % of its calls: traffic settles into a stable split
    instead of swinging all-or-nothing between the two providers."""
    rng = random.Random(5)
    fate = random.Random(9)
    policy = cheapest(rng)
    pool = deployments(("cheap", 1), ("mid", 1))
    picks: list[str] = []
    for _ in range(4_000):
        first = policy.order(pool, ctx())[0].name
        picks.append(first)
        if first == "p/cheap" and fate.random() < 0.3:
            policy.observe([attempt(first, "upstream_rate_limited", "http_429")])
        else:
            policy.observe([attempt(first)])
    windows = [picks[i : i + 200].count("p/cheap") / 200 for i in range(1_000, 4_000, 200)]
    assert all(0.05 < share < 0.95 for share in windows)  # never all-or-nothing
    assert max(windows) - min(windows) < 0.5
    # once healthy again, the cheap deployment wins its traffic back
    for _ in range(400):
        first = policy.order(pool, ctx())[0].name
        policy.observe([attempt(first)])
    assert firsts(policy, pool, 100)["cheap"] == 100


def test_cheapest_ignores_attempts_of_deployments_it_never_ordered() -> None:
    policy = cheapest(random.Random(0))
    policy.observe([attempt("p/other", "upstream_rate_limited", "http_429")])
    assert policy.aimd.shares == {}


# -- task map -------------------------------------------------------------------------------


def test_task_map_by_header_then_metadata_then_default() -> None:
    policy = TaskMap(
        "support", TaskMapPolicy(tasks={"code": "smart", "chat": "fast"}, default="fast")
    )
    assert policy.pick(ctx(headers={"x-pointsman-task": "code"})).alias == "smart"
    assert policy.pick(ctx(metadata={"task": "code"})).alias == "smart"
    header_wins = ctx(headers={"x-pointsman-task": "chat"}, metadata={"task": "code"})
    assert policy.pick(header_wins).alias == "fast"
    fallback = policy.pick(ctx(metadata={"task": "poetry"}))
    assert (fallback.alias, fallback.reason, fallback.tier) == ("fast", "default", "poetry")


def test_task_map_without_default_refuses_unknown_tasks() -> None:
    policy = TaskMap("support", TaskMapPolicy(tasks={"code": "smart"}))
    with pytest.raises(InvalidRequestError) as caught:
        policy.pick(ctx(metadata={"task": "poetry"}))
    assert "one of: code" in caught.value.message and "poetry" in caught.value.message


# -- tiered complexity ----------------------------------------------------------------------

EASY = [f"What is {a} plus {a + 1}?" for a in range(20)] + [
    "What is the capital of France?",
    "Translate 'good morning' into Spanish.",
]
HARD = [
    "Prove that there are infinitely many primes p such that p + 2 is also prime, or explain "
    "why this is open, and derive the Hardy-Littlewood constant for twin primes step by step.",
    "A tank holds 1200 litres. Pipe A fills it in 6 hours, pipe B in 8 hours, and a drain "
    "empties it in 12 hours. All three open at 9:00; at 11:30 pipe B breaks. When is it full?",
] * 5


@pytest.fixture(scope="module")
def shipped() -> ComplexityClassifier:
    return load_classifier(None)


def test_thresholds_come_from_the_calibration_not_constants(shipped: ComplexityClassifier) -> None:
    tiered = Tiered(
        TieredPolicy(cheap="fast", strong="smart", strong_share=0.3, band=0.05), shipped
    )
    assert tiered.threshold == shipped.threshold_for_strong_share(0.3)
    assert tiered.upper == shipped.threshold_for_strong_share(0.35)
    by_quality = TieredPolicy(cheap="fast", strong="smart", quality=0.8, band=0.0)
    share = strong_share(shipped, by_quality)
    assert 0 < share < 1
    assert Tiered(by_quality, shipped).threshold == pytest.approx(
        shipped.threshold_for_quality(0.8)
    )


def test_tiered_split_matches_the_target_share_on_calibration_traffic(
    shipped: ComplexityClassifier,
) -> None:
    prompts = (
        EASY + HARD + [f"Explain topic number {i} about railways and trains." for i in range(60)]
    )
    calibrated = shipped.calibrated_to(prompts)
    tiered = Tiered(
        TieredPolicy(cheap="fast", strong="smart", strong_share=0.4, band=0.0), calibrated
    )
    picks = [tiered.pick(ctx(p)) for p in prompts]
    strong = sum(p.alias == "smart" for p in picks) / len(picks)
    assert abs(strong - 0.4) <= 0.06
    assert {p.reason for p in picks} <= {"score", "unfamiliar"}


def test_tiered_routes_easy_down_hard_up_and_unsure_up(shipped: ComplexityClassifier) -> None:
    tiered = Tiered(TieredPolicy(cheap="fast", strong="smart", strong_share=0.5), shipped)
    easy = [tiered.pick(ctx(p)) for p in EASY]
    hard = [tiered.pick(ctx(p)) for p in HARD]
    mean_easy = sum(p.score or 0 for p in easy) / len(easy)
    mean_hard = sum(p.score or 0 for p in hard) / len(hard)
    assert mean_easy > mean_hard
    image = [
        {"type": "text", "text": "what is this?"},
        {"type": "image_url", "image_url": {"url": "u"}},
    ]
    unsure = tiered.pick(ctx(image))  # type: ignore[arg-type]
    assert (unsure.alias, unsure.reason) == ("smart", "non-text-content")
    empty = tiered.pick(ctx("   "))
    assert (empty.alias, empty.reason) == ("smart", "no-text")


def test_the_band_routes_close_calls_up(shipped: ComplexityClassifier) -> None:
    banded = Tiered(TieredPolicy(cheap="fast", strong="smart", strong_share=0.3, band=0.2), shipped)
    plain = Tiered(TieredPolicy(cheap="fast", strong="smart", strong_share=0.3, band=0.0), shipped)
    prompts = EASY + HARD + [f"Describe item {i} of the catalogue briefly." for i in range(40)]
    up = 0
    for prompt in prompts:
        with_band, without = banded.pick(ctx(prompt)), plain.pick(ctx(prompt))
        if with_band.reason == "band":
            up += 1
            assert without.alias == "fast" and with_band.alias == "smart"
            assert banded.threshold <= (with_band.score or 0) < banded.upper
        elif without.reason == "score":
            assert with_band.alias == without.alias
    assert up > 0
