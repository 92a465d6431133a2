"""Fault and latency draws: precedence, determinism, rates, outage windows."""

from __future__ import annotations

import math
import statistics

import msgspec
import pytest

from pointsman.simulator.faults import CLEAN, Draw, FaultEngine, FaultHeaderError
from pointsman.simulator.profiles import BUILTIN_PROFILES, Outage, Profile
from pointsman.simulator.stats import Stats

FLAKY = BUILTIN_PROFILES["sim-flaky"]


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_instant_profile_takes_the_fast_path() -> None:
    assert FaultEngine().draw(BUILTIN_PROFILES["sim-instant"]) is CLEAN


def test_same_seed_same_sequence_and_reset_replays_it() -> None:
    engine = FaultEngine()
    first = [engine.draw(FLAKY) for _ in range(200)]
    fresh = FaultEngine()
    assert [fresh.draw(FLAKY) for _ in range(200)] == first
    engine.reset()
    assert [engine.draw(FLAKY) for _ in range(200)] == first
    other_seed = msgspec.structs.replace(FLAKY, seed=1)
    other = FaultEngine()
    assert [other.draw(other_seed) for _ in range(200)] != first


def test_rates_are_honoured() -> None:
    engine = FaultEngine()
    draws = [engine.draw(FLAKY) for _ in range(20000)]
    share = {s: sum(d.error == s for d in draws) / len(draws) for s in (429, 500, 503)}
    assert share[429] == pytest.approx(0.10, abs=0.01)
    assert share[500] == pytest.approx(0.05, abs=0.01)
    assert share[503] == pytest.approx(0.05, abs=0.01)
    disconnects = sum(d.disconnect for d in draws) / len(draws)
    assert disconnects == pytest.approx(0.05 * 0.8, abs=0.01)  # drawn among the non-errors


def test_ttft_is_lognormal_around_the_median() -> None:
    engine = FaultEngine()
    ttfts = [engine.draw(BUILTIN_PROFILES["sim-small"]).ttft_s for _ in range(4000)]
    assert statistics.median(ttfts) == pytest.approx(0.030, rel=0.05)
    assert statistics.stdev(math.log(t) for t in ttfts) == pytest.approx(0.2, rel=0.1)
    fixed = Profile(name="f", ttft_ms=12)
    assert engine.draw(fixed).ttft_s == 0.012


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (b"429", Draw(error=429)),
        (b"503", Draw(error=503)),
        (b"418", Draw(error=418)),
        (b" Disconnect ", Draw(disconnect=True)),
        (b"timeout", Draw(hang=True)),
    ],
)
def test_fault_header_overrides_everything(header: bytes, expected: Draw) -> None:
    down = Profile(name="d", down=True)
    assert FaultEngine().draw(down, fault=header) == expected


@pytest.mark.parametrize("header", [b"sometimes", b"200", b"600", b""])
def test_bad_fault_header(header: bytes) -> None:
    with pytest.raises(FaultHeaderError):
        FaultEngine().draw(FLAKY, fault=header)


def test_ttft_header() -> None:
    assert FaultEngine().draw(FLAKY, ttft_ms=b"250").ttft_s == 0.25
    for bad in (b"-1", b"soon", b"inf", b"nan"):
        with pytest.raises(FaultHeaderError):
            FaultEngine().draw(FLAKY, ttft_ms=bad)


def test_down_and_outage_windows() -> None:
    assert FaultEngine().draw(Profile(name="d", down=True)).error == 503
    clock = Clock()
    engine = FaultEngine(clock)
    profile = Profile(name="o", outages=[Outage(start_s=10, end_s=20)])
    assert engine.draw(profile).error is None
    clock.now += 10
    assert engine.draw(profile).error == 503
    clock.now += 9.9
    assert engine.draw(profile).error == 503
    clock.now += 0.1
    assert engine.draw(profile).error is None
    engine.reset()  # the outage clock restarts
    clock.now += 15
    assert engine.draw(profile).error == 503


def test_stats_counts() -> None:
    stats = Stats()
    for outcome in ("ok", "ok", "error_429"):
        stats.record("a", outcome)
    stats.record("b", "ok")
    assert stats.snapshot() == {
        "total": 4,
        "outcomes": {"ok": 3, "error_429": 1},
        "models": {"a": {"ok": 2, "error_429": 1}, "b": {"ok": 1}},
    }
    assert stats.model("a") == {"ok": 2, "error_429": 1} and stats.model("zzz") == {}
    stats.clear()
    assert stats.total == 0
