"""The reliability config section, and breaker state across config snapshots (reload)."""

from __future__ import annotations

from typing import Any

import pytest

from pointsman.config import ConfigError, parse_config
from pointsman.gateway import Gateway
from pointsman.reliability.breaker import BreakerState
from pointsman.reliability.engine import Reliability


def config(models: dict[str, Any], **sections: Any) -> dict[str, Any]:
    return {
        "server": {"auth": "none"},
        "providers": {
            "p": {"protocol": "openai", "base_url": "http://p/v1"},
            "q": {"protocol": "openai", "base_url": "http://q/v1", "timeouts": {"ttft": 0.5}},
        },
        "models": models,
        "governance": {"enabled": False},
        **sections,
    }


def problems(data: dict[str, Any]) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse_config(data, env={}, protocols=("openai",))
    return caught.value.problems


def test_defaults_follow_the_field_numbers() -> None:
    parsed = parse_config(config({"a": [{"provider": "p", "model": "m"}]}), env={})
    settings = parsed.reliability
    assert (settings.retry.same_deployment, settings.retry.max_wait) == (1, 1.0)
    assert (settings.budget.ratio, settings.breaker.consecutive_failures) == (0.2, 5)
    assert settings.hedge_after is None
    timeouts = parsed.providers["p"].timeouts
    assert (timeouts.ttft, timeouts.idle, timeouts.total) == (2.0, 30.0, 600.0)
    assert parsed.providers["q"].timeouts.ttft == 0.5


def test_fallback_settings_name_known_aliases_only() -> None:
    models = {
        "a": {
            "deployments": [{"provider": "p", "model": "m"}],
            "fallbacks": ["b", "nope", "a"],
            "on_context_window_exceeded": "missing",
        },
        "b": [{"provider": "q", "model": "m"}],
    }
    assert problems(config(models)) == [
        "models.a.fallbacks[1]: unknown alias 'nope'; known: a, b",
        "models.a.fallbacks[2]: an alias cannot fall back to itself; name another",
        "models.a.on_context_window_exceeded: unknown alias 'missing'; known: a, b",
    ]


def test_reliability_settings_are_checked_with_their_path() -> None:
    models = {"a": [{"provider": "p", "model": "m"}]}
    assert problems(config(models, reliability={"retry": {"backoff_base": 5}})) == [
        "reliability.retry.backoff_base: larger than backoff_max (5.0 > 2.0); lower it"
    ]
    assert problems(config(models, reliability={"breaker": {"cooldown": 0}})) == [
        "reliability.breaker.cooldown: expected `float` > 0.0"
    ]
    (problem,) = problems(config(models, reliability={"health_check": {"probe": "ping"}}))
    assert problem == "reliability.health_check.probe: invalid enum value 'ping'"
    (problem,) = problems(config(models, reliability={"retyr": {}}))
    assert problem == "reliability.retyr: unknown setting 'retyr'; remove it or check its spelling"


def test_breakers_survive_a_new_snapshot_for_deployments_that_still_exist() -> None:
    first = parse_config(
        config({"a": [{"provider": "p", "model": "m"}, {"provider": "q", "model": "m"}]}),
        env={},
    )
    engine = Reliability(first)
    old = Gateway(first, reliability=engine)
    old.reliability.board.state("p/m").breaker.trip(engine.clock(), "test")
    old.reliability.board.state("q/m").breaker.trip(engine.clock(), "test")
    second = parse_config(
        config({"a": [{"provider": "p", "model": "m"}], "b": [{"provider": "p", "model": "n"}]}),
        env={},
    )
    fresh = Gateway(second, reliability=engine)
    board = fresh.reliability.board
    assert board.state("p/m").breaker.state is BreakerState.OPEN  # kept
    assert set(board.states) == {"p/m", "p/n"}  # q/m is gone, p/n is new
    assert board.state("p/n").breaker.state is BreakerState.CLOSED
