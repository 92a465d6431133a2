"""Traffic with a known latency profile through the real gateway; /metrics must show it.

Two simulated models with fixed (sigma 0) latency: ``sim-good`` answers its first token after
150 ms and then a token every 20 ms (50 tokens/s); ``sim-slow`` takes 620 ms to its first
token. Under the interactive SLO (TTFT <= 500 ms, TPOT <= 50 ms) every ``good`` request meets
it and no ``slow`` one does, so the histograms' buckets and the goodput counters are known in
advance: TTFT in (0.1, 0.25] and (0.5, 0.75], TPOT in (0.01, 0.025], whole answers of 20
tokens in 0.55 s, well inside their 0.5 + 19 x 0.05 s budget.
"""

from __future__ import annotations

import aiohttp
import pytest

from pointsman.simulator.server import SimServer

from ..conftest import ENV, GatewayFactory
from .traffic import burst, pick, scrape, set_profile

TOKENS = 20
MODELS = {
    "good": [{"provider": "sim", "model": "sim-good"}],
    "slow": [{"provider": "sim", "model": "sim-slow"}],
}


def genai(alias: str, model: str) -> dict[str, str]:
    return {
        "gen_ai_operation_name": "chat",
        "gen_ai_system": "openai",
        "gen_ai_request_model": alias,
        "gen_ai_response_model": model,
    }


async def test_histograms_and_goodput_match_the_latency_profile(
    start_gateway: GatewayFactory, sim: SimServer
) -> None:
    port = sim.port
    fixed = {"ttft_sigma": 0, "tokens_per_s": 50, "output_tokens": TOKENS}
    await set_profile(port, "sim-good", ttft_ms=150, **fixed)
    await set_profile(port, "sim-slow", ttft_ms=620, **fixed)
    async with start_gateway(models=MODELS) as url:
        plan = [("good", True)] * 8 + [("slow", True)] * 4 + [("good", False)] * 2
        assert await burst(url, plan) == [200] * len(plan)
        metrics = await scrape(url)

    good, slow = genai("good", "sim-good"), genai("slow", "sim-slow")
    ttft = metrics["gen_ai_server_time_to_first_token_seconds_bucket"]
    assert pick(ttft, le="0.1", **good) == 0
    assert pick(ttft, le="0.25", **good) == 8  # streams only: whole answers have no TTFT
    assert pick(ttft, le="0.5", **slow) == 0
    assert pick(ttft, le="0.75", **slow) == 4
    ttft_sum = metrics["gen_ai_server_time_to_first_token_seconds_sum"]
    assert 0.15 <= pick(ttft_sum, **good) / 8 < 0.2

    tpot = metrics["gen_ai_server_time_per_output_token_seconds_bucket"]
    for labels, count in ((good, 8), (slow, 4)):
        assert pick(tpot, le="0.01", **labels) == 0
        assert pick(tpot, le="0.025", **labels) == count
    tpot_sum = metrics["gen_ai_server_time_per_output_token_seconds_sum"]
    assert 0.018 < pick(tpot_sum, **good) / 8 < 0.023

    duration = metrics["gen_ai_server_request_duration_seconds_bucket"]
    # good: 0.15 + 19 x 0.02 = 0.53 s streamed, 0.15 + 20 x 0.02 = 0.55 s whole; slow: 1.0 s
    assert pick(duration, le="0.32", error_type="", **good) == 0
    assert pick(duration, le="0.64", error_type="", **good) == 10
    assert pick(duration, le="0.64", error_type="", **slow) == 0
    assert pick(duration, le="1.28", error_type="", **slow) == 4

    tokens = metrics["gen_ai_client_token_usage_sum"]
    assert pick(tokens, gen_ai_token_type="output", **good) == 10 * TOKENS
    calls = metrics["gen_ai_client_operation_duration_seconds_count"]
    assert pick(calls, deployment="sim/sim-good", error_type="") == 10

    goodput = metrics["pointsman_goodput_requests_total"]
    assert pick(goodput, alias="good") == 10
    assert pick(goodput, alias="slow") == 0
    slo = metrics["pointsman_slo_requests_total"]
    assert pick(slo, alias="slow", result="missed") == 4
    compliance = metrics["pointsman_slo_compliance_ratio"]
    assert pick(compliance, alias="good") == 1.0
    assert pick(compliance, alias="slow") == 0.0
    requests = metrics["pointsman_requests_total"]
    assert pick(requests, alias="good", status="200", cache="none") == 10
    assert metrics["pointsman_requests_in_flight"][()] == 0
    breaker = metrics["pointsman_breaker_state"]
    assert pick(breaker, deployment="sim/sim-good", state="closed") == 1


async def test_who_may_scrape(
    start_gateway: GatewayFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(ENV, "METRICS_TOKEN", "scrape-token")
    observe = {"metrics": {"token": "env:METRICS_TOKEN", "allow": ["10.0.0.0/8"]}}
    async with start_gateway(observe=observe) as url, aiohttp.ClientSession() as session:
        for headers, status in (
            ({}, 401),
            ({"Authorization": "Bearer wrong"}, 401),
            ({"Authorization": "Bearer scrape-token"}, 200),
            ({"Authorization": "Bearer test-master-key"}, 200),
        ):
            async with session.get(f"{url}/metrics", headers=headers) as response:
                assert response.status == status, headers
                if status == 200:
                    assert response.headers["content-type"].startswith("text/plain")
                    assert "gen_ai_server_request_duration_seconds" in await response.text()
    listed = {"metrics": {"allow": ["127.0.0.0/8"]}}
    async with (
        start_gateway(observe=listed) as url,
        aiohttp.ClientSession() as session,
        session.get(f"{url}/metrics") as response,
    ):
        assert response.status == 200  # loopback is on the allow-list: no token needed
