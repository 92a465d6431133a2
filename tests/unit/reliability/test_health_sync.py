"""Active health checks, the health board across reloads, and breaker sharing between replicas."""

from __future__ import annotations

import asyncio

from pointsman.config import parse_config
from pointsman.errors import UpstreamUnavailableError
from pointsman.reliability.board import DeploymentInfo, HealthBoard
from pointsman.reliability.breaker import BreakerState
from pointsman.reliability.engine import Reliability
from pointsman.reliability.health import HealthChecker, probe_targets
from pointsman.reliability.settings import BreakerSettings, HealthCheckSettings
from pointsman.state.memory import MemoryBackend

from .fakes import OK, Clock, Scripted, Step, build, chat_ctx

BREAKER = BreakerSettings(consecutive_failures=2, cooldown=10, max_cooldown=10)
CHAT = HealthCheckSettings(probe="chat", interval=1, timeout=0.2)
MODELS = HealthCheckSettings(probe="models", interval=1, timeout=0.2)


def board(clock: Clock, *names: str) -> HealthBoard:
    health = HealthBoard(BREAKER, clock=clock)
    health.configure([DeploymentInfo(n, *n.split("/")) for n in names], BREAKER)
    return health


def down(name: str) -> Step:
    return Step(error=UpstreamUnavailableError(f"{name}: down", deployment=name,
                                               upstream_status=503))  # fmt: skip


def test_targets_one_per_provider_for_models_one_per_deployment_for_chat() -> None:
    p, q, r = Scripted("p"), Scripted("q"), Scripted("r")
    pairs = [("p/a", "a"), ("p/b", "b"), ("p/a", "a")]
    targets = probe_targets(
        [
            (p, MODELS, pairs),
            (q, CHAT, [("q/x", "x"), ("q/y", "y")]),
            (r, HealthCheckSettings(enabled=False), [("r/z", "z")]),
        ]
    )
    assert [(t.label, t.deployments) for t in targets] == [
        ("p", ("p/a", "p/b")), ("q/x", ("q/x",)), ("q/y", ("q/y",)),
    ]  # fmt: skip


async def test_failing_model_list_counts_against_every_deployment_of_the_provider() -> None:
    clock = Clock()
    health = board(clock, "p/a", "p/b")
    p = Scripted("p")
    p.list_error = UpstreamUnavailableError("p: refused", deployment="p")
    (target,) = probe_targets([(p, MODELS, [("p/a", "a"), ("p/b", "b")])])
    checker = HealthChecker(health, clock)
    await checker.probe(target)
    await checker.probe(target)
    for name in ("p/a", "p/b"):
        state = health.state(name)
        assert state.breaker.state is BreakerState.OPEN  # found out with no traffic at all
        assert state.last_probe is not None and not state.last_probe.ok
    p.list_error = None
    clock.now += 20
    await checker.probe(target)
    assert health.state("p/a").breaker.state is BreakerState.OPEN  # a model list proves little


async def test_chat_probe_closes_the_breaker_once_the_cooldown_is_over() -> None:
    clock = Clock()
    health = board(clock, "p/a")
    p = Scripted("p", {"a": [OK]})
    (target,) = probe_targets([(p, CHAT, [("p/a", "a")])])
    checker = HealthChecker(health, clock)
    state = health.state("p/a")
    state.breaker.trip(clock.now, "test")
    await checker.probe(target)
    assert state.breaker.state is BreakerState.OPEN  # still cooling down
    clock.now += 10
    await checker.probe(target)
    assert state.breaker.state is BreakerState.CLOSED
    assert state.last_probe is not None and state.last_probe.kind == "chat"


async def test_the_schedule_runs_and_stops() -> None:
    clock = Clock()
    health = board(clock, "p/a")
    p = Scripted("p", {"a": [down("p/a")]})
    fast = HealthCheckSettings(probe="chat", interval=0.01, timeout=0.2)
    checker = HealthChecker(health, clock)
    checker.track(probe_targets([(p, fast, [("p/a", "a")])]))
    await asyncio.sleep(0.2)
    assert checker.running and checker.probes >= 3
    assert health.state("p/a").breaker.state is BreakerState.OPEN
    await checker.stop()
    probes = checker.probes
    await asyncio.sleep(0.05)
    assert checker.probes == probes and not checker.running


def test_reconfigure_keeps_the_state_of_deployments_that_still_exist() -> None:
    clock = Clock()
    health = board(clock, "p/a", "p/b")
    kept = health.state("p/a")
    kept.breaker.trip(clock.now, "test")
    health.configure(
        [DeploymentInfo("p/a", "p", "a", region="eu"), DeploymentInfo("q/c", "q", "c")], BREAKER
    )
    assert health.state("p/a") is kept and kept.info.region == "eu"
    assert set(health.states) == {"p/a", "q/c"}
    health.configure([DeploymentInfo("p/a", "p", "a", base_url="http://elsewhere")], BREAKER)
    assert health.state("p/a").breaker.state is BreakerState.CLOSED  # a new upstream: fresh


async def test_engine_keeps_breakers_across_a_new_snapshot() -> None:
    p, q = Scripted("p", {"m1": [down("p/m1")]}), Scripted("q")
    models = {"a": [{"provider": "p", "model": "m1"}, {"provider": "q", "model": "m2"}]}
    settings = {"breaker": {"consecutive_failures": 1}}
    dispatch, engine, routes = build(models, {"p": p, "q": q}, settings)
    await dispatch(chat_ctx(routes, "a"))
    reloaded = parse_config(
        {
            "server": {"auth": "none"},
            "providers": {n: {"protocol": "openai", "base_url": f"http://{n}/v1"} for n in "pq"},
            "models": {**models, "b": [{"provider": "q", "model": "m3"}]},
            "governance": {"enabled": False},
        },
        env={},
        protocols=("openai",),
    )
    engine.dispatcher(reloaded, routes)
    assert engine.board.state("p/m1").breaker.state is BreakerState.OPEN
    snapshot = engine.snapshot()
    names = [d["name"] for d in snapshot["deployments"]]
    assert names == ["p/m1", "q/m2", "q/m3"]
    first = snapshot["deployments"][0]
    assert first["state"] == "open" and first["error_rate"] == 1.0
    assert first["latency_ewma_ms"] is None and first["last_error"] == "p/m1: down"
    assert snapshot["counters"]["fallbacks"] == {"http_503": 1}


async def test_replicas_share_breaker_openings_through_version_state() -> None:
    shared = MemoryBackend()
    clock = Clock()
    config = parse_config(
        {
            "server": {"auth": "none"},
            "providers": {"p": {"protocol": "openai", "base_url": "http://p/v1"}},
            "models": {"a": [{"provider": "p", "model": "a"}]},
            "reliability": {"breaker": {"cooldown": 10}},
            "governance": {"enabled": False},
        },
        env={},
        protocols=("openai",),
    )
    one, two = (Reliability(config, shared, clock=clock) for _ in range(2))
    assert one.sync is not None and two.sync is not None
    await one.sync.poll()
    await two.sync.poll()  # both know the starting versions
    one.board.state("p/a").breaker.trip(clock.now, "3 consecutive failures")
    await asyncio.sleep(0)  # the publishing task runs
    await one.sync.poll()
    assert one.sync.applied == 0  # its own opening is no news to it
    assert two.board.state("p/a").breaker.state is BreakerState.CLOSED
    await two.sync.poll()
    breaker = two.board.state("p/a").breaker
    assert breaker.state is BreakerState.OPEN and two.sync.applied == 1
    assert breaker.open_until == clock.now + 10
    assert two.counters.breaker_transitions["closed->open"] == 1
    await asyncio.sleep(0)
    assert await shared.version("breaker-open:p/a") == 1  # the remote opening is not re-published
    # Closing stays local: replica two recovers through its own probe only.
    breaker.trip(clock.now, "ignored")
    assert breaker.state is BreakerState.OPEN
    await one.sync.stop()
    await two.sync.stop()
