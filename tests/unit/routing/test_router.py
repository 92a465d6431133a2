"""The router: constraints before policies, refusals that name every candidate, composite hops,
the route header, data class during fallback, breakers, downgrades, in-flight counts."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from pointsman.config import parse_config
from pointsman.errors import (
    ConfigError,
    InvalidRequestError,
    PermissionDeniedError,
    ServiceUnavailableError,
    UpstreamUnavailableError,
)
from pointsman.routing.record import HEADER, RouteRecord
from pointsman.routing.router import RouteStage
from tests.unit.reliability.fakes import Scripted, Step

from .parts import build, chat

DOWN = Step(error=UpstreamUnavailableError("down", deployment="x"))

MIXED = {
    "open": [
        {"provider": "p", "model": "sim-small"},  # closed_api by default
        {"provider": "p", "model": "sim-large", "data_class": "self_hosted"},
    ],
    "closed": [{"provider": "p", "model": "sim-instant"}],
    "private": {
        "deployments": [{"provider": "p", "model": "sim-large", "data_class": "self_hosted"}],
        "fallbacks": ["closed"],
    },
}


async def test_constraints_filter_before_the_policy_and_are_recorded() -> None:
    parts = build(MIXED)
    ctx = chat("open", headers={"x-pointsman-data-class": "regulated"})
    await parts.run(ctx)
    assert [d.name for d in ctx.candidates] == ["p/sim-large"]
    record = ctx.notes["routing"]
    assert isinstance(record, RouteRecord)
    assert [(e.deployment, e.reason) for e in record.skipped] == [("p/sim-small", "data_class")]
    header = ctx.response_headers[HEADER]
    assert "policy=weighted" in header and "class=regulated" in header
    assert "skipped=p/sim-small:data_class" in header
    assert parts.providers["p"].log.calls == ["sim-large"]


async def test_every_candidate_excluded_by_data_class_is_a_403_naming_each() -> None:
    parts = build(MIXED)
    ctx = chat("closed", ceiling="regulated")  # undeclared: the key's ceiling, cautiously
    with pytest.raises(PermissionDeniedError) as caught:
        await parts.run(ctx)
    error = caught.value
    assert error.code == "data_class_not_allowed"
    assert "p/sim-instant: regulated data may not reach a closed_api deployment" in error.message
    assert "class=regulated" in error.headers[HEADER]
    assert parts.providers["p"].log.calls == []


async def test_capability_and_context_refusals_are_400s() -> None:
    parts = build({"a": [{"provider": "p", "model": "sim-small"}]})
    image = [{"type": "image_url", "image_url": {"url": "data:image/png;base64,AA"}}]
    with pytest.raises(InvalidRequestError) as no_vision:
        await parts.run(chat("a", image))  # type: ignore[arg-type]
    assert no_vision.value.code == "no_capable_deployment"
    assert "p/sim-small: no images support" in no_vision.value.message
    with pytest.raises(InvalidRequestError) as too_long:
        await parts.run(chat("a", "word " * 40_000))
    assert too_long.value.code == "context_length_exceeded"


async def test_a_declared_class_above_the_key_ceiling_is_refused() -> None:
    parts = build(MIXED)
    with pytest.raises(PermissionDeniedError) as caught:
        await parts.run(chat("open", ceiling="internal", metadata={"data_class": "restricted"}))
    assert caught.value.code == "data_class_above_ceiling"


async def test_data_class_holds_during_fallback() -> None:
    """The self-hosted deployment fails; the fallback alias has only a closed API: the walk
    must not call it, and the error names both."""
    provider = Scripted("p", {"sim-large": [DOWN]})
    parts = build(MIXED, {"p": provider})
    ctx = chat("private", headers={"x-pointsman-data-class": "regulated"})
    with pytest.raises(ServiceUnavailableError) as caught:
        await parts.run(ctx)
    assert provider.log.calls == ["sim-large", "sim-large"]  # a retry, never sim-instant
    message = caught.value.message
    assert "p/sim-large" in message
    assert "p/sim-instant: regulated data may not reach a closed_api deployment" in message
    assert "p/sim-instant:data_class" in caught.value.headers[HEADER]
    # the same request, public: the fallback serves it
    public = chat("private")
    provider.scripts["sim-large"] = [DOWN]
    await parts.run(public)
    assert public.deployment is not None and public.deployment.name == "p/sim-instant"


async def test_open_breakers_go_last_and_are_named() -> None:
    provider = Scripted("p")
    parts = build(
        {"a": [{"provider": "p", "model": "m1", "weight": 10}, {"provider": "p", "model": "m2"}]},
        {"p": provider},
    )
    state = parts.engine.board.state("p/m1")
    for _ in range(5):
        state.failed(parts.clock(), "boom", False)
    ctx = chat("a")
    await parts.run(ctx)
    assert [d.name for d in ctx.candidates] == ["p/m2", "p/m1"]
    assert "p/m1:breaker_open" in ctx.response_headers[HEADER]
    assert provider.log.calls == ["m2"]


TIERED = {
    "fast": [{"provider": "p", "model": "sim-small"}],
    "smart": [{"provider": "p", "model": "sim-large"}],
    "auto": {"policy": {"kind": "tiered", "cheap": "fast", "strong": "smart", "strong_share": 0.5}},
    "support": {
        "policy": {"kind": "task_map", "tasks": {"code": "smart"}, "default": "auto"},
        "fallbacks": ["fast"],
    },
}


async def test_composite_aliases_hop_to_a_leaf_and_say_why() -> None:
    parts = build(TIERED)
    ctx = chat("support", "What is 2 plus 3?")
    await parts.run(ctx)
    header = ctx.response_headers[HEADER]
    assert header.startswith("policy=task_map; route=support:task_map>auto:tiered>")
    assert "reason=" in header and "score=" in header and "threshold=" in header
    served = ctx.deployment
    assert served is not None and served.name in ("p/sim-small", "p/sim-large")
    assert ctx.alias == "support"  # the client's alias names the request everywhere
    assert {a.alias for a in ctx.attempts} <= {"fast", "smart"}
    code = chat("support", headers={"x-pointsman-task": "code"})
    await parts.run(code)
    assert "route=support:task_map>smart:weighted" in code.response_headers[HEADER]
    assert "tier=code" in code.response_headers[HEADER]


async def test_composite_aliases_list_their_members_for_reports() -> None:
    parts = build(TIERED)
    assert [d.name for d in parts.router.aliases["auto"]] == ["p/sim-small", "p/sim-large"]
    assert {d.name for d in parts.router.aliases["support"]} == {"p/sim-small", "p/sim-large"}


async def test_selection_is_memoised_per_request() -> None:
    parts = build(TIERED)
    ctx = chat("auto")
    await parts.run(ctx)
    first = parts.router.select(ctx, "auto")
    assert parts.router.select(ctx, "auto") is first
    assert len(ctx.notes["routing.picks"]) == 1


async def test_a_downgrade_reroutes_through_the_router() -> None:
    parts = build(MIXED)
    ctx = chat("open", headers={"x-pointsman-data-class": "regulated"})
    parts.router.resolve(ctx, "open")
    with pytest.raises(PermissionDeniedError):
        parts.router.resolve(ctx, "closed")  # a budget downgrade to a forbidden alias
    assert ctx.notes["routing"].data_class == "regulated"


async def test_least_busy_counts_requests_in_flight_until_they_complete() -> None:
    parts = build(
        {"a": {"deployments": [{"provider": "p", "model": "m"}], "policy": {"kind": "least_busy"}}}
    )
    ctx = chat("a")
    stage = RouteStage(parts.router)
    await stage.on_request(ctx)
    assert parts.router.busy == {"p/m": 1}  # counted as soon as it is routed
    await parts.terminal(ctx)
    assert parts.router.busy == {"p/m": 1}
    await stage.on_complete(ctx)
    assert parts.router.busy == {"p/m": 0}


async def test_cheapest_learns_from_finished_requests() -> None:
    provider = Scripted("p", {"sim-small": [Step(error=UpstreamUnavailableError("x")), Step()]})
    parts = build(
        {
            "a": {
                "deployments": [
                    {"provider": "p", "model": "sim-small"},
                    {"provider": "p", "model": "sim-large"},
                ],
                "policy": {"kind": "cheapest"},
            }
        },
        {"p": provider},
    )
    await parts.run(chat("a"))
    policy: Any = parts.router.leaf["a"]
    assert policy.aimd.share("p/sim-small") < 1.0  # the failed call cut its share...
    await parts.run(chat("a"))
    assert provider.log.calls[0] == "sim-small"


async def test_route_log_line(caplog: pytest.LogCaptureFixture) -> None:
    parts = build(MIXED)
    with caplog.at_level(logging.INFO, logger="pointsman.routing"):
        await parts.run(chat("open", headers={"x-pointsman-data-class": "regulated"}))
    lines = [r.getMessage() for r in caplog.records if r.name == "pointsman.routing"]
    assert len(lines) == 1
    assert '"event":"route"' in lines[0] and '"data_class":"regulated"' in lines[0]
    assert "regulated data may not reach a closed_api deployment" in lines[0]


def _config(models: dict[str, Any]) -> None:
    parse_config(
        {"server": {"auth": "none"}, "providers": {"p": {"protocol": "openai", "base_url": "http://p/v1"}},
         "models": models},
        env={}, protocols=("openai",),
    )  # fmt: skip


def test_config_checks_name_the_path_and_the_fix() -> None:
    leaf = [{"provider": "p", "model": "m"}]
    with pytest.raises(ConfigError) as caught:
        _config(
            {
                "a": leaf,
                "t": {"policy": {"kind": "tiered", "cheap": "a", "strong": "zz", "quality": 0.9}},
                "x": {"policy": {"kind": "task_map", "tasks": {"q": "y"}}},
                "y": {"policy": {"kind": "task_map", "tasks": {"q": "x"}}},
                "s": {"deployments": leaf, "shadow": {"alias": "s"}},
                "c": {"deployments": leaf, "policy": {"kind": "cascade", "tiers": ["a", "a"]}},
            }
        )
    problems = "\n".join(caught.value.problems)
    assert "models.t.policy.strong: unknown alias 'zz'" in problems
    assert "models.x.policy: aliases route to each other in a cycle: x -> y -> x" in problems
    assert "models.s.shadow.alias: an alias cannot shadow itself" in problems
    assert "models.c.deployments: a CascadePolicy alias routes to other aliases" in problems
