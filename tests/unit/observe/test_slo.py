"""TTFT, TPOT, SLO verdicts, compliance and goodput on recorded timelines."""

from __future__ import annotations

import pytest

from pointsman.observe.slo import (
    Target,
    Timeline,
    colour,
    compliance,
    eligible,
    goodput,
    meets,
    tpot,
    ttft,
)

INTERACTIVE = Target(ttft=0.5, tpot=0.05)

# (name, timeline, ttft, tpot, meets the interactive SLO)
TIMELINES = [
    # a stream: first token after 120 ms, 41 tokens over the next 800 ms -> 20 ms per token
    ("fast stream", Timeline(10.0, 10.92, 10.12, 41), 0.12, 0.02, True),
    # first token on the target exactly: still met (targets are inclusive)
    ("ttft on target", Timeline(0.0, 1.5, 0.5, 21), 0.5, 0.05, True),
    ("ttft late", Timeline(0.0, 1.0, 0.6, 5), 0.6, 0.1, False),
    # first token fast, then 60 ms per token: TPOT misses
    ("slow tokens", Timeline(0.0, 0.1 + 0.06 * 10, 0.1, 11), 0.1, 0.06, False),
    # one token: TPOT undefined, the verdict rests on TTFT
    ("one token", Timeline(0.0, 0.2, 0.2, 1), 0.2, None, True),
    ("no tokens", Timeline(0.0, 0.3, 0.3, 0), 0.3, None, True),
    # a whole answer of 11 tokens: budget 0.5 + 10 x 0.05 = 1.0 s
    ("whole, in budget", Timeline(0.0, 0.95, None, 11), 0.95, None, True),
    ("whole, over budget", Timeline(0.0, 1.05, None, 11), 1.05, None, False),
    ("whole, one token", Timeline(0.0, 0.45, None, 1), 0.45, None, True),
]


@pytest.mark.parametrize(
    ("name", "timeline", "want_ttft", "want_tpot", "want_met"),
    TIMELINES,
    ids=[t[0] for t in TIMELINES],
)
def test_recorded_timelines(
    name: str, timeline: Timeline, want_ttft: float, want_tpot: float | None, want_met: bool
) -> None:
    assert ttft(timeline) == pytest.approx(want_ttft)
    got = tpot(timeline)
    assert got == (None if want_tpot is None else pytest.approx(want_tpot))
    assert meets(INTERACTIVE, timeline) is want_met


def test_tpot_never_negative_when_clocks_tie() -> None:
    assert tpot(Timeline(0.0, 0.1, 0.2, 3)) == 0.0


def test_target_from_milliseconds() -> None:
    assert Target.from_ms(500, 50) == Target(0.5, 0.05)


@pytest.mark.parametrize(
    ("status", "code", "counts"),
    [
        (200, None, True),
        (502, "upstream_error", True),
        (503, "no_healthy_deployment", True),
        (504, "upstream_timeout", True),
        (429, "upstream_rate_limited", True),  # the provider's fault
        (429, "rate_limit_exceeded", False),  # our own limit: policy, not latency
        (429, "budget_exceeded", False),
        (400, "invalid_request_error", False),
        (401, "invalid_api_key", False),
        (404, "model_not_found", False),
    ],
)
def test_eligibility(status: int, code: str | None, counts: bool) -> None:
    assert eligible(status, code) is counts


@pytest.mark.parametrize(
    ("met", "total", "ratio", "shade"),
    [
        (0, 0, None, "grey"),
        (95, 100, 0.95, "green"),
        (100, 100, 1.0, "green"),
        (949, 1000, 0.949, "yellow"),
        (90, 100, 0.90, "yellow"),
        (899, 1000, 0.899, "red"),
        (0, 10, 0.0, "red"),
    ],
)
def test_compliance_gauge(met: int, total: int, ratio: float | None, shade: str) -> None:
    got = compliance(met, total)
    assert got == (None if ratio is None else pytest.approx(ratio))
    assert colour(got) == shade


def test_goodput_is_met_requests_per_second() -> None:
    # 60 s of recorded traffic: 30 streams meet the SLO, 10 miss it -> 0.5 good requests/s
    recorded = [Timeline(t, t + 0.7, t + 0.1, 17) for t in range(30)]
    recorded += [Timeline(t, t + 2.0, t + 0.9, 17) for t in range(10)]
    met = sum(meets(INTERACTIVE, timeline) for timeline in recorded)
    assert met == 30
    assert goodput(met, 60.0) == pytest.approx(0.5)
    assert goodput(met, 0.0) == 0.0
