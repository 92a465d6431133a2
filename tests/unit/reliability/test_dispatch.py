"""The attempt loop over scripted providers: retries, fallbacks, redirects, budget, breakers."""

from __future__ import annotations

import time

import pytest

from pointsman.errors import (
    ContentFilteredError,
    ContextWindowExceededError,
    ServiceUnavailableError,
    UnprocessableContentError,
    UpstreamAuthError,
    UpstreamBadRequestError,
    UpstreamRateLimitedError,
    UpstreamUnavailableError,
)
from pointsman.providers.base import ChatCall, ChatProvider, ChatResult, ChatStream
from pointsman.reliability.breaker import BreakerState

from .fakes import OK, Clock, Scripted, Step, build, chat_ctx, embed_ctx


def down(name: str, status: int = 503) -> Step:
    error = UpstreamUnavailableError(f"{name}: down", deployment=name, upstream_status=status)
    return Step(error=error)


def limited(name: str, retry_after: float | None) -> Step:
    error = UpstreamRateLimitedError(
        f"{name}: slow down", deployment=name, upstream_status=429, retry_after=retry_after
    )
    return Step(error=error)


TWO = {"a": {"deployments": [{"provider": "p", "model": "m1", "region": "eu"},
                             {"provider": "q", "model": "m2"}]}}  # fmt: skip


async def test_happy_path_is_one_call_to_the_first_candidate() -> None:
    p, q = Scripted("p"), Scripted("q")
    dispatch, engine, routes = build(TWO, {"p": p, "q": q})
    ctx = chat_ctx(routes, "a")
    await dispatch(ctx)
    assert ctx.result is not None and b'"by":"p/m1"' in ctx.result.body
    assert ctx.response_headers["x-pointsman-deployment"] == "p/m1"
    assert ctx.response_headers["x-pointsman-attempts"] == "1"
    (attempt,) = ctx.attempts
    assert (attempt.deployment, attempt.provider, attempt.region, attempt.number) == (
        "p/m1", "p", "eu", 1,
    )  # fmt: skip
    assert attempt.outcome == "ok" and attempt.cause is None and attempt.latency > 0
    assert q.log.calls == []
    assert engine.counters.attempts["ok"] == 1
    assert engine.board.state("p/m1").latency_ewma is not None


async def test_retryable_error_retries_the_same_deployment_once_then_falls_back() -> None:
    p, q = Scripted("p", {"m1": [down("p/m1")]}), Scripted("q")
    dispatch, engine, routes = build(TWO, {"p": p, "q": q})
    ctx = chat_ctx(routes, "a")
    await dispatch(ctx)
    assert p.log.calls == ["m1", "m1"] and q.log.calls == ["m2"]
    assert [(a.deployment, a.cause, a.status) for a in ctx.attempts] == [
        ("p/m1", "http_503", 503), ("p/m1", "http_503", 503), ("q/m2", None, None),
    ]  # fmt: skip
    assert ctx.response_headers["x-pointsman-attempts"] == "3"
    assert engine.counters.retries["http_503"] == 1
    assert engine.counters.fallbacks["http_503"] == 1


async def test_same_deployment_retries_are_configurable() -> None:
    p, q = Scripted("p", {"m1": [down("p/m1")]}), Scripted("q")
    retry = {"same_deployment": 0, "backoff_base": 0.001, "backoff_max": 0.001}
    dispatch, _, routes = build(TWO, {"p": p, "q": q}, {"retry": retry})
    await dispatch(chat_ctx(routes, "a"))
    assert p.log.calls == ["m1"] and q.log.calls == ["m2"]


async def test_the_request_at_fault_is_answered_at_once() -> None:
    bad = UpstreamBadRequestError("p/m1: bad temperature", deployment="p/m1", upstream_status=400)
    p, q = Scripted("p", {"m1": [Step(error=bad)]}), Scripted("q")
    dispatch, engine, routes = build(TWO, {"p": p, "q": q})
    with pytest.raises(UpstreamBadRequestError) as caught:
        await dispatch(chat_ctx(routes, "a"))
    assert caught.value.headers["x-pointsman-attempts"] == "1"
    assert p.log.calls == ["m1"] and q.log.calls == []
    assert engine.board.state("p/m1").breaker.consecutive == 0  # not the deployment's fault


async def test_deployment_faults_fall_back_without_a_same_deployment_retry() -> None:
    auth = UpstreamAuthError("p/m1: credentials refused", deployment="p/m1", upstream_status=401)
    p, q = Scripted("p", {"m1": [Step(error=auth)]}), Scripted("q")
    dispatch, engine, routes = build(TWO, {"p": p, "q": q})
    ctx = chat_ctx(routes, "a")
    await dispatch(ctx)
    assert p.log.calls == ["m1"] and q.log.calls == ["m2"]
    assert ctx.attempts[0].cause == "auth"
    assert engine.board.state("p/m1").breaker.consecutive == 1


async def test_a_timeout_switches_deployment_without_retrying_it() -> None:
    p, q = Scripted("p", {"m1": [Step(delay=1.0)]}), Scripted("q")
    dispatch, _, routes = build(TWO, {"p": p, "q": q}, timeouts={"p": {"total": 0.05}})
    ctx = chat_ctx(routes, "a")
    started = time.perf_counter()
    await dispatch(ctx)
    assert time.perf_counter() - started < 0.5
    assert [a.cause for a in ctx.attempts] == ["timeout_total", None]
    assert p.log.cancelled == 1  # the slow call was abandoned, not left running


async def test_long_retry_after_falls_back_at_once_and_nobody_calls_before_the_reset() -> None:
    clock = Clock()
    p, q = Scripted("p", {"m1": [limited("p/m1", 5.0), OK]}), Scripted("q")
    dispatch, engine, routes = build(TWO, {"p": p, "q": q}, clock=clock)
    await dispatch(chat_ctx(routes, "a"))
    assert p.log.calls == ["m1"] and q.log.calls == ["m2"]
    ctx = chat_ctx(routes, "a", rid="r2")  # another request during the cooldown
    await dispatch(ctx)
    assert p.log.calls == ["m1"]  # not called before its reset time
    assert ctx.response_headers["x-pointsman-attempts"] == "1"
    assert [(a.deployment, a.number, a.outcome, a.cause) for a in ctx.attempts] == [
        ("p/m1", 0, "skipped", "rate_limited"), ("q/m2", 1, "ok", None),
    ]  # fmt: skip
    assert engine.counters.skips["rate_limited"] == 1
    assert engine.board.state("p/m1").breaker.state is BreakerState.CLOSED  # a 429 is no outage
    clock.now += 5.0
    ctx = chat_ctx(routes, "a", rid="r3")
    await dispatch(ctx)
    assert ctx.response_headers["x-pointsman-deployment"] == "p/m1"


async def test_short_retry_after_is_waited_out_on_the_same_deployment() -> None:
    p, q = Scripted("p", {"m1": [limited("p/m1", 0.04), OK]}), Scripted("q")
    dispatch, _, routes = build(TWO, {"p": p, "q": q}, clock=time.monotonic)
    ctx = chat_ctx(routes, "a")
    started = time.perf_counter()
    await dispatch(ctx)
    assert time.perf_counter() - started >= 0.04
    assert p.log.calls == ["m1", "m1"] and q.log.calls == []


async def test_breaker_opens_skips_the_deployment_and_recovers_through_a_probe() -> None:
    clock = Clock()
    p = Scripted("p", {"m1": [down("p/m1")]})
    q = Scripted("q")
    breaker = {"consecutive_failures": 2, "cooldown": 10, "max_cooldown": 10}
    dispatch, engine, routes = build(TWO, {"p": p, "q": q}, {"breaker": breaker}, clock=clock)
    await dispatch(chat_ctx(routes, "a"))
    state = engine.board.state("p/m1")
    assert state.breaker.state is BreakerState.OPEN and len(p.log.calls) == 2
    for i in range(5):
        ctx = chat_ctx(routes, "a", rid=f"open{i}")
        await dispatch(ctx)
        skip, call = ctx.attempts
        assert (skip.deployment, skip.outcome, skip.cause) == ("p/m1", "skipped", "breaker_open")
        assert (call.deployment, call.number) == ("q/m2", 1)
    assert len(p.log.calls) == 2  # skipped while open
    assert engine.counters.skips["breaker_open"] == 5
    clock.now += 10
    await dispatch(chat_ctx(routes, "a", rid="probe1"))  # the probe fails: open again
    assert len(p.log.calls) == 3 and state.breaker.state is BreakerState.OPEN
    p.scripts["m1"] = [OK]
    clock.now += 10
    ctx = chat_ctx(routes, "a", rid="probe2")
    await dispatch(ctx)
    assert ctx.response_headers["x-pointsman-deployment"] == "p/m1"
    assert state.breaker.state is BreakerState.CLOSED
    transitions = engine.counters.breaker_transitions
    assert transitions["closed->open"] == 1 and transitions["half_open->closed"] == 1


async def test_each_fallback_alias_has_its_own_attempt_budget() -> None:
    models = {
        "smart": {"deployments": [{"provider": "p", "model": m} for m in ("a", "b", "c")],
                  "fallbacks": ["fast"]},
        "fast": [{"provider": "q", "model": "x"}],
    }  # fmt: skip
    p = Scripted("p", {m: [down(f"p/{m}")] for m in "abc"})
    q = Scripted("q")
    retry = {"attempts_per_alias": 2, "same_deployment": 0}
    dispatch, _, routes = build(models, {"p": p, "q": q}, {"retry": retry})
    ctx = chat_ctx(routes, "smart")
    await dispatch(ctx)
    assert p.log.calls == ["a", "b"] and q.log.calls == ["x"]
    assert [a.alias for a in ctx.attempts] == ["smart", "smart", "fast"]


async def test_a_deployment_in_two_aliases_is_called_once_per_request() -> None:
    models = {
        "smart": {"deployments": [{"provider": "p", "model": "a"}], "fallbacks": ["fast"]},
        "fast": [{"provider": "p", "model": "a"}, {"provider": "q", "model": "x"}],
    }
    p, q = Scripted("p", {"a": [down("p/a")]}), Scripted("q")
    dispatch, _, routes = build(models, {"p": p, "q": q}, {"retry": {"same_deployment": 0}})
    await dispatch(chat_ctx(routes, "smart"))
    assert p.log.calls == ["a"] and q.log.calls == ["x"]


def _typed_models() -> dict[str, object]:
    return {
        "small": {"deployments": [{"provider": "p", "model": "s"}],
                  "on_context_window_exceeded": "big", "on_content_policy": "lenient"},
        "big": [{"provider": "q", "model": "b"}],
        "lenient": [{"provider": "q", "model": "l"}],
        "plain": [{"provider": "p", "model": "s"}],
    }  # fmt: skip


async def test_context_window_redirects_to_the_larger_alias_free_of_budget() -> None:
    long = ContextWindowExceededError("p/s: too long", deployment="p/s", upstream_status=400)
    p, q = Scripted("p", {"s": [Step(error=long)]}), Scripted("q")
    budget = {"ratio": 0, "min_per_window": 0}  # no retries at all
    dispatch, engine, routes = build(_typed_models(), {"p": p, "q": q}, {"budget": budget})
    ctx = chat_ctx(routes, "small")
    await dispatch(ctx)
    assert q.log.calls == ["b"] and ctx.response_headers["x-pointsman-deployment"] == "q/b"
    assert [a.alias for a in ctx.attempts] == ["small", "big"]
    assert engine.counters.redirects["context_window"] == 1
    with pytest.raises(ContextWindowExceededError):  # no target configured: the client's 400
        await dispatch(chat_ctx(routes, "plain"))


async def test_content_policy_redirects_to_its_alias() -> None:
    refused = ContentFilteredError("p/s: filtered", deployment="p/s", upstream_status=400)
    p, q = Scripted("p", {"s": [Step(error=refused)]}), Scripted("q")
    dispatch, engine, routes = build(_typed_models(), {"p": p, "q": q})
    await dispatch(chat_ctx(routes, "small"))
    assert q.log.calls == ["l"]
    assert engine.counters.redirects["content_policy"] == 1


async def test_the_retry_budget_stops_retries_and_says_so() -> None:
    p, q = Scripted("p", {"m1": [down("p/m1")]}), Scripted("q")
    budget = {"ratio": 0, "min_per_window": 1}
    dispatch, engine, routes = build(TWO, {"p": p, "q": q}, {"budget": budget})
    with pytest.raises(ServiceUnavailableError) as caught:  # one retry granted, no fallback
        await dispatch(chat_ctx(routes, "a"))
    assert "retry budget exhausted" in caught.value.message
    assert caught.value.headers["x-pointsman-attempts"] == "2"
    with pytest.raises(ServiceUnavailableError) as caught:  # nothing left: not even a retry
        await dispatch(chat_ctx(routes, "a", rid="r2"))
    assert caught.value.headers["x-pointsman-attempts"] == "1"
    assert engine.counters.budget_exhausted == 2
    assert q.log.calls == []


async def test_everything_down_is_one_503_naming_each_deployment_and_why() -> None:
    clock = Clock()
    p, q = Scripted("p", {"m1": [down("p/m1")]}), Scripted("q", {"m2": [down("q/m2", 502)]})
    breaker = {"consecutive_failures": 2, "cooldown": 30}
    dispatch, engine, routes = build(TWO, {"p": p, "q": q}, {"breaker": breaker}, clock=clock)
    with pytest.raises(ServiceUnavailableError) as caught:
        await dispatch(chat_ctx(routes, "a"))
    error = caught.value
    assert error.status == 503 and error.code == "no_healthy_deployment"
    # attempts_per_alias (3) bounds the calls: p twice (one retry), q once.
    assert error.message.endswith("'a' (3 calls): p/m1: down (x2); q/m2: down")
    assert error.headers["x-pointsman-attempts"] == "3"
    assert int(error.headers["Retry-After"]) >= 1
    with pytest.raises(ServiceUnavailableError):  # p is open now; q fails a second time
        await dispatch(chat_ctx(routes, "a", rid="r1b"))
    assert len(p.log.calls) == 2 and len(q.log.calls) == 2
    # Both breakers are open now: the next request is refused without a single call.
    calls = len(p.log.calls) + len(q.log.calls)
    with pytest.raises(ServiceUnavailableError) as caught:
        await dispatch(chat_ctx(routes, "a", rid="r2"))
    assert len(p.log.calls) + len(q.log.calls) == calls
    assert "circuit breaker open" in caught.value.message
    assert caught.value.headers["Retry-After"] == "30"
    assert caught.value.headers["x-pointsman-attempts"] == "0"
    assert engine.counters.unavailable == 3


async def test_everything_rate_limited_is_a_429_with_retry_after() -> None:
    p = Scripted("p", {"m1": [limited("p/m1", 7.0)]})
    q = Scripted("q", {"m2": [limited("q/m2", 3.0)]})
    dispatch, _, routes = build(TWO, {"p": p, "q": q})
    with pytest.raises(UpstreamRateLimitedError) as caught:
        await dispatch(chat_ctx(routes, "a"))
    assert caught.value.status == 429 and caught.value.headers["Retry-After"] == "3"
    with pytest.raises(UpstreamRateLimitedError) as caught:  # both cooling: refused at once
        await dispatch(chat_ctx(routes, "a", rid="r2"))
    assert caught.value.headers["x-pointsman-attempts"] == "0"


class ChatOnly(ChatProvider):
    protocol = "openai"

    async def chat(self, call: ChatCall) -> ChatResult:
        raise AssertionError("not called")

    async def chat_stream(self, call: ChatCall) -> ChatStream:
        raise AssertionError("not called")


async def test_no_capable_provider_is_a_422() -> None:
    from pointsman.config import ProviderConfig

    chat_only = ChatOnly("p", ProviderConfig(protocol="openai", base_url="http://p/v1"))
    dispatch, _, routes = build(
        {"e": [{"provider": "p", "model": "m"}]},
        {"p": chat_only},  # type: ignore[dict-item]
    )
    with pytest.raises(UnprocessableContentError):
        await dispatch(embed_ctx(routes, "e"))


async def test_embeddings_fail_over_too() -> None:
    p, q = Scripted("p", {"m1": [down("p/m1")]}), Scripted("q")
    dispatch, _, routes = build(TWO, {"p": p, "q": q})
    ctx = embed_ctx(routes, "a")
    await dispatch(ctx)
    assert ctx.response_headers["x-pointsman-deployment"] == "q/m2"
