"""The circuit breaker's state machine, its hysteresis, and health-probe input."""

from __future__ import annotations

from pointsman.reliability.breaker import DENY, PASS, PROBE, Breaker, BreakerState, Transition
from pointsman.reliability.settings import BreakerSettings

SETTINGS = BreakerSettings(
    consecutive_failures=3,
    error_rate=0.5,
    min_requests=10,
    window=10,
    cooldown=5,
    max_cooldown=40,
    stable_after=30,
)


def breaker(settings: BreakerSettings = SETTINGS) -> tuple[Breaker, list[Transition]]:
    seen: list[Transition] = []
    return Breaker(settings, seen.append), seen


def test_opens_after_n_consecutive_failures_only() -> None:
    b, seen = breaker()
    b.record(False, 0.0)
    b.record(False, 0.1)
    b.record(True, 0.2)  # a success resets the run
    b.record(False, 0.3)
    b.record(False, 0.4)
    assert b.state is BreakerState.CLOSED
    b.record(False, 0.5)
    assert b.state is BreakerState.OPEN
    assert seen[-1].reason == "3 consecutive failures"
    assert seen[-1].cooldown == 5
    assert b.allow(0.6) == DENY
    assert b.retry_in(1.5) == 4.0


def test_opens_on_error_rate_once_enough_calls() -> None:
    b, seen = breaker()
    for i in range(10):  # alternate: never 3 in a row, but half fail
        b.record(i % 2 == 0, i * 0.1)
    assert b.state is BreakerState.OPEN
    assert seen[-1].reason.startswith("error rate 50%")


def test_error_rate_needs_min_requests() -> None:
    b, _ = breaker()
    for i in range(8):
        b.record(i % 2 == 0, i * 0.1)
    assert b.state is BreakerState.CLOSED
    assert b.error_rate(1.0) == (0.5, 8)


def test_old_failures_leave_the_window() -> None:
    b, _ = breaker()
    for i in range(9):
        b.record(i % 2 == 0, i * 0.1)  # 4 failures early on
    for i in range(10):
        b.record(True, 20 + i * 0.1)  # long after: only successes in the window
    b.record(False, 21.5)
    assert b.state is BreakerState.CLOSED


def test_half_open_lets_exactly_one_probe_through() -> None:
    b, seen = breaker()
    b.trip(0.0, "test")
    assert b.allow(4.9) == DENY
    assert b.available(5.0)
    assert b.allow(5.0) == PROBE
    assert b.state is BreakerState.HALF_OPEN
    assert not b.available(5.0)
    assert b.allow(5.1) == DENY  # the single probe is out
    b.record(True, 5.2)  # a call that started earlier: a sample, not the probe
    assert b.state is BreakerState.HALF_OPEN
    b.record(True, 5.3, probe=True)
    assert b.state is BreakerState.CLOSED
    assert b.allow(5.4) == PASS
    assert [t.state for t in seen] == [
        BreakerState.OPEN,
        BreakerState.HALF_OPEN,
        BreakerState.CLOSED,
    ]


def test_failed_probe_reopens_with_the_same_cooldown() -> None:
    """A long outage: probes keep coming every cooldown (no strike for a failed probe)."""
    b, seen = breaker()
    b.trip(0.0, "test")
    for _ in range(4):
        now = b.open_until
        assert b.allow(now) == PROBE
        b.record(False, now + 0.1, probe=True)
        assert b.state is BreakerState.OPEN
        assert seen[-1].reason == "probe failed" and seen[-1].cooldown == 5
    assert b.strikes == 0


def test_release_frees_the_probe_slot() -> None:
    b, _ = breaker()
    b.trip(0.0, "test")
    assert b.allow(5.0) == PROBE
    b.release()
    assert b.allow(5.1) == PROBE


def test_hysteresis_doubles_the_cooldown_of_a_flapping_deployment() -> None:
    b, seen = breaker()
    now = 0.0
    cooldowns = []
    for _ in range(5):  # trip, wait out the cooldown, probe succeeds, fail again at once
        b.trip(now, "down")
        cooldowns.append(seen[-1].cooldown)
        now = b.open_until
        assert b.allow(now) == PROBE
        b.record(True, now, probe=True)
        now += 1.0
    assert cooldowns == [5, 10, 20, 40, 40]  # capped by max_cooldown
    # Closed for longer than stable_after: the next trip starts from the base cooldown again.
    b.trip(now + 31, "down")
    assert seen[-1].cooldown == 5 and b.strikes == 0


def test_closing_forgets_the_failures_before_the_outage_ended() -> None:
    b, _ = breaker()
    for i in range(9):
        b.record(i % 2 == 0, i * 0.1)
    b.trip(1.0, "test")
    assert b.allow(6.0) == PROBE
    b.record(True, 6.0, probe=True)
    b.record(False, 6.1)
    assert b.state is BreakerState.CLOSED  # 1 failure in a fresh window, not 5 of 10


def test_decisive_health_probe_closes_only_after_the_cooldown() -> None:
    b, seen = breaker()
    b.trip(0.0, "test")
    b.probe_result(True, 2.0)  # during the cooldown: no effect
    assert b.state is BreakerState.OPEN
    b.probe_result(True, 5.5)
    assert b.state is BreakerState.CLOSED
    assert seen[-1].reason == "health probe succeeded"
    b.trip(100.0, "test")
    b.probe_result(False, 106.0)  # due, failed: re-open for another cooldown
    assert b.state is BreakerState.OPEN and b.open_until == 111.0


def test_health_probe_defers_to_a_live_probe_in_flight() -> None:
    b, _ = breaker()
    b.trip(0.0, "test")
    assert b.allow(5.0) == PROBE
    b.probe_result(True, 5.1)
    assert b.state is BreakerState.HALF_OPEN  # the live probe decides


def test_failing_probes_open_an_idle_breaker() -> None:
    b, _ = breaker()
    for i in range(3):
        b.probe_result(False, float(i))
    assert b.state is BreakerState.OPEN


def test_remote_trip_is_marked_and_only_trips_a_closed_breaker() -> None:
    b, seen = breaker()
    b.trip(0.0, "peer", remote=True)
    assert seen[-1].remote and b.state is BreakerState.OPEN
    b.trip(1.0, "again", remote=True)
    assert len(seen) == 1


def test_reconfigure_keeps_state() -> None:
    b, _ = breaker()
    b.trip(0.0, "test")
    b.reconfigure(BreakerSettings(cooldown=1, window=60))
    assert b.state is BreakerState.OPEN
    assert b.allow(5.0) == PROBE
