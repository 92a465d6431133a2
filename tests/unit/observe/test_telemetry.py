"""Outcomes of recorded requests, the totals they add up to, and their Prometheus exposition."""

from __future__ import annotations

import pytest
from prometheus_client.parser import text_string_to_metric_families

from pointsman.config import ServerConfig
from pointsman.core.pipeline import Attempt, Pipeline, RequestContext
from pointsman.core.types import Usage
from pointsman.errors import BudgetExceededError, RateLimitError, UpstreamUnavailableError
from pointsman.governance.auth import Authenticate
from pointsman.observe.aggregate import Telemetry
from pointsman.observe.exposition import GatewayCollector, build_registry, render
from pointsman.observe.kpis import kpis
from pointsman.observe.outcome import read_outcome
from pointsman.observe.settings import LoggingSettings, SloClass
from pointsman.observe.slo import Target
from pointsman.observe.stage import UNKNOWN_ALIAS, Observe, SnapshotView
from pointsman.observe.window import Tally
from pointsman.providers.base import ChatResult

from .recorded import LARGE, SMALL, context

TIERS = {SMALL.name: "economy", LARGE.name: "premium"}
SYSTEMS = {SMALL.name: "openai", LARGE.name: "openai"}
VIEW = SnapshotView(
    slo={"fast": (Target(), "interactive"), "smart": (Target(), "interactive")},
    default_slo=(Target(), "interactive"),
    tiers=TIERS,
    systems=SYSTEMS,
)


class Clock:
    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def outcome(ctx: RequestContext, price: int | None = None):  # type: ignore[no-untyped-def]
    return read_outcome(
        ctx,
        target=Target(),
        slo_class="interactive",
        tiers=TIERS,
        systems=SYSTEMS,
        price=None if price is None else (lambda _: price),
    )


def samples(telemetry: Telemetry, name: str) -> dict[tuple[tuple[str, str], ...], float]:
    text = render(build_registry(GatewayCollector(telemetry))).decode()
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name:
                found[tuple(sorted(sample.labels.items()))] = sample.value
    return found


def test_a_fast_stream() -> None:
    ctx = context(started=100.0, first_token=100.12, finished=100.92, output_tokens=41)
    out = outcome(ctx)
    assert out.ttft == pytest.approx(0.12)
    assert out.tpot == pytest.approx(0.02)
    assert out.latency == pytest.approx(0.92)
    assert (out.met, out.eligible, out.fallback, out.attempts) == (True, True, False, 1)
    assert (out.deployment, out.system, out.model, out.tier) == (
        "sim/sim-small", "openai", "sim-small", "economy"
    )  # fmt: skip
    assert (out.org, out.team, out.key) == ("org_1", "team_search", "key_1")
    assert out.calls == [("sim/sim-small", "openai", "ok", pytest.approx(0.92))]


def test_whole_answers_have_no_ttft_or_tpot_but_a_verdict() -> None:
    out = outcome(context(stream=False, finished=101.2, output_tokens=11))
    assert (out.ttft, out.tpot, out.met) == (None, None, False)  # 1.2 s > 0.5 + 10 x 0.05


def test_cost_from_accounting_or_the_observers_own_pricing() -> None:
    assert outcome(context(notes={"pricing.actual": 1234})).cost == 1234
    assert outcome(context(), price=99).cost == 99
    assert outcome(context()).cost == 0


def test_cache_notes() -> None:
    hit = context(deployment=None)
    hit.result = ChatResult(body=b"{}", usage=Usage())
    assert outcome(hit).cache == "hit"  # answered with no attempt: only the cache does that
    assert outcome(context(notes={"cache": "miss"})).cache == "miss"
    noted = outcome(context(notes={"cache": {"outcome": "semantic_hit", "saved_micros": 700}}))
    assert (noted.cache, noted.saved) == ("semantic_hit", 700)
    assert outcome(context(notes={"cache": {"hit": False}})).cache == "miss"
    assert outcome(context()).cache == "none"


def fallback_context() -> RequestContext:
    attempts = [
        Attempt(
            LARGE.name, 1, 100.0, latency=0.05, outcome="upstream_unavailable", cause="http_503"
        ),
        Attempt(SMALL.name, 2, 100.06, latency=0.04, provider="sim"),
    ]
    return context(first_token=100.1, finished=100.5, attempts=attempts, alias="smart")


def test_fallback_recorded_as_attempts_and_an_event() -> None:
    telemetry = Telemetry(clock=Clock())
    out = outcome(fallback_context())
    assert out.fallback is True
    assert out.failures == [(LARGE.name, "http_503")]
    telemetry.record(out)
    event = telemetry.events[-1]
    assert (event["kind"], event["from"], event["to"], event["cause"]) == (
        "fallback", LARGE.name, SMALL.name, "http_503"
    )  # fmt: skip
    attempts = samples(telemetry, "pointsman_attempts_total")
    assert attempts[(("deployment", LARGE.name), ("outcome", "http_503"))] == 1
    assert attempts[(("deployment", SMALL.name), ("outcome", "ok"))] == 1


def test_a_retry_of_the_same_deployment_is_not_a_fallback() -> None:
    attempts = [
        Attempt(
            SMALL.name, 1, 100.0, latency=0.05, outcome="upstream_unavailable", cause="http_503"
        ),
        Attempt(SMALL.name, 2, 100.06, latency=0.04),
    ]
    assert outcome(context(attempts=attempts, first_token=100.1)).fallback is False


def test_refusals_are_counted_but_not_held_against_the_slo() -> None:
    telemetry = Telemetry(clock=Clock())
    for error in (RateLimitError("slow down"), BudgetExceededError("team budget exceeded")):
        telemetry.record(outcome(context(error=error)))
    assert telemetry.refusals == {"rate_limit_exceeded": 1, "budget_exceeded": 1}
    assert [e["kind"] for e in telemetry.refused] == ["refusal", "refusal"]
    assert telemetry.refused[-1]["message"] == "team budget exceeded"
    assert not telemetry.events  # fallbacks and failures are kept apart from refusals
    figures = kpis(telemetry.timeline.total(telemetry.clock(), Tally()), 60)
    assert (figures["refusals"], figures["eligible"], figures["compliance"]) == (2, 0, None)
    refused = samples(telemetry, "pointsman_refusals_total")
    assert refused[(("code", "budget_exceeded"),)] == 1


def test_upstream_failures_count_against_the_slo() -> None:
    telemetry = Telemetry(clock=Clock())
    failed = [
        Attempt(SMALL.name, 1, 100.0, latency=0.2, outcome="upstream_unavailable", cause="http_503")
    ]
    telemetry.record(outcome(context(error=UpstreamUnavailableError("down"), attempts=failed)))
    telemetry.record(outcome(context(first_token=100.1, finished=100.4)))
    figures = kpis(telemetry.timeline.total(telemetry.clock(), Tally()), 60)
    assert (figures["errors"], figures["eligible"], figures["met"]) == (1, 2, 1)
    assert figures["compliance"] == 0.5
    assert figures["colour"] == "red"
    assert telemetry.events[-1]["kind"] == "failure"


def test_kpis_over_a_window() -> None:
    telemetry = Telemetry(clock=Clock())
    telemetry.top_tier = "premium"
    for _ in range(3):  # cheap, fast
        telemetry.record(
            outcome(context(first_token=100.1, finished=100.5, notes={"pricing.actual": 100}))
        )
    premium = context(deployment=LARGE, alias="smart", first_token=100.2, finished=100.6)
    premium.notes["pricing.actual"] = 5000
    telemetry.record(outcome(premium))
    telemetry.record(outcome(fallback_context()))
    figures = kpis(telemetry.timeline.total(telemetry.clock(), Tally()), 10)
    assert figures["requests"] == 5
    assert figures["rps"] == 0.5
    assert figures["cost_per_success_usd"] == pytest.approx(5300 / 1e6 / 5)
    assert figures["fallback_rate"] == pytest.approx(0.2)
    assert figures["top_tier_share"] == pytest.approx(0.2)
    assert figures["goodput"] == pytest.approx(0.5)  # all five met the SLO, over 10 s
    assert figures["ttft"]["p50"] == pytest.approx(0.1, rel=0.13)


def test_exposition_follows_the_genai_conventions() -> None:
    telemetry = Telemetry(clock=Clock())
    for _ in range(4):
        telemetry.record(outcome(context(first_token=100.12, finished=100.92, output_tokens=41)))
    telemetry.record(outcome(context(first_token=100.7, finished=101.0, output_tokens=41)))
    genai = (
        ("gen_ai_operation_name", "chat"),
        ("gen_ai_request_model", "fast"),
        ("gen_ai_response_model", "sim-small"),
        ("gen_ai_system", "openai"),
    )
    ttft = samples(telemetry, "gen_ai_server_time_to_first_token_seconds_bucket")
    assert ttft[(*genai, ("le", "0.1"))] == 0
    assert ttft[(*genai, ("le", "0.25"))] == 4
    assert ttft[(*genai, ("le", "0.5"))] == 4
    assert ttft[(*genai, ("le", "0.75"))] == 5
    tpot = samples(telemetry, "gen_ai_server_time_per_output_token_seconds_bucket")
    assert tpot[(*genai, ("le", "0.01"))] == 1  # 0.3 s / 40 tokens = 7.5 ms
    assert tpot[(*genai, ("le", "0.025"))] == 5
    tokens = samples(telemetry, "gen_ai_client_token_usage_sum")
    assert tokens[(*genai, ("gen_ai_token_type", "output"))] == 5 * 41
    slo = samples(telemetry, "pointsman_slo_requests_total")
    assert slo[(("alias", "fast"), ("result", "met"), ("slo_class", "interactive"))] == 4
    assert slo[(("alias", "fast"), ("result", "missed"), ("slo_class", "interactive"))] == 1
    requests = samples(telemetry, "pointsman_requests_total")
    key = (("alias", "fast"), ("cache", "none"), ("code", "ok"), ("deployment", SMALL.name))
    assert requests[(*key, ("status", "200"))] == 5


def test_exposition_of_slo_targets() -> None:
    collector = GatewayCollector(Telemetry(), targets=lambda: {"interactive": SloClass()})
    text = render(build_registry(collector)).decode()
    assert 'pointsman_slo_target_seconds{kind="ttft",slo_class="interactive"} 0.5' in text
    assert 'pointsman_slo_target_seconds{kind="tpot",slo_class="interactive"} 0.05' in text


async def test_the_stage_sees_refusals_by_earlier_stages_and_counts_in_flight() -> None:
    telemetry = Telemetry(clock=Clock())
    stage = Observe(telemetry, VIEW, LoggingSettings())
    seen_inflight: list[int] = []

    async def terminal(ctx: RequestContext) -> None:
        seen_inflight.append(telemetry.inflight)

    pipeline = Pipeline([stage, Authenticate(ServerConfig(master_key="k"))], terminal)
    refused = RequestContext("r1", "chat", {}, {}, alias="fast")
    with pytest.raises(Exception, match="Missing API key"):
        await pipeline.run(refused)
    assert telemetry.refusals == {"missing_api_key": 1}
    answered = RequestContext("r2", "chat", {}, {"authorization": "Bearer k"}, alias="fast")
    await pipeline.run(answered)
    assert seen_inflight == [1]
    await pipeline.complete(answered)
    assert telemetry.inflight == 0


async def test_the_stage_never_lets_clients_mint_alias_labels() -> None:
    telemetry = Telemetry(clock=Clock())
    stage = Observe(telemetry, VIEW, LoggingSettings())
    for name in ("random-1", "random-2"):
        ctx = context(alias=name, error=RateLimitError("x"))
        stage.record(ctx)
    assert set(telemetry.aliases) == {UNKNOWN_ALIAS}
    assert {key[2] for key in telemetry.requests} == {UNKNOWN_ALIAS}
