"""Streams under the attempt loop (TTFT, idle, mid-stream failures) and hedged requests."""

from __future__ import annotations

import time

import pytest

from pointsman.errors import ServiceUnavailableError, UpstreamUnavailableError
from pointsman.reliability.classify import AttemptTimeout

from .fakes import OK, Scripted, Step, build, chat_ctx, drain

TWO = {"a": [{"provider": "p", "model": "m1"}, {"provider": "q", "model": "m2"}]}
ONE = {"a": [{"provider": "p", "model": "m1"}]}
HEDGED = {"a": {"deployments": TWO["a"], "hedge_after": 0.03}}


async def test_ttft_timeout_switches_while_nothing_was_sent() -> None:
    p, q = Scripted("p", {"m1": [Step(ttft=2.0)]}), Scripted("q")
    dispatch, _, routes = build(TWO, {"p": p, "q": q}, timeouts={"p": {"ttft": 0.05}})
    ctx = chat_ctx(routes, "a", stream=True)
    started = time.perf_counter()
    await dispatch(ctx)
    assert time.perf_counter() - started < 0.5
    assert [(a.deployment, a.cause) for a in ctx.attempts] == [
        ("p/m1", "timeout_ttft"), ("q/m2", None),
    ]  # fmt: skip
    assert p.log.cancelled == 1 and p.log.streams_closed == 1  # the slow stream was released
    assert len(await drain(ctx)) == 3


async def test_ttft_timeout_never_abandons_the_last_candidate() -> None:
    p = Scripted("p", {"m1": [Step(ttft=0.15)]})
    dispatch, _, routes = build(ONE, {"p": p}, timeouts={"p": {"ttft": 0.05}})
    ctx = chat_ctx(routes, "a", stream=True)
    started = time.perf_counter()
    await dispatch(ctx)
    assert time.perf_counter() - started >= 0.15
    assert [a.outcome for a in ctx.attempts] == ["ok"]


async def test_total_timeout_bounds_the_first_token_of_the_last_candidate() -> None:
    p = Scripted("p", {"m1": [Step(ttft=2.0)]})
    dispatch, _, routes = build(ONE, {"p": p}, timeouts={"p": {"ttft": 0.05, "total": 0.1}})
    ctx = chat_ctx(routes, "a", stream=True)
    with pytest.raises(ServiceUnavailableError, match=r"no complete answer within 0\.1s"):
        await dispatch(ctx)
    assert ctx.attempts[0].cause == "timeout_total"


async def test_a_completed_stream_counts_as_a_success() -> None:
    p = Scripted("p")
    dispatch, engine, routes = build(ONE, {"p": p})
    ctx = chat_ctx(routes, "a", stream=True)
    await dispatch(ctx)
    state = engine.board.state("p/m1")
    assert state.calls == 0  # outcome known only at the end
    assert len(await drain(ctx)) == 3
    assert ctx.stream is not None and ctx.stream.finish_reason == "stop"
    assert state.calls == 1 and state.failures == 0


async def test_midstream_failure_reaches_the_consumer_and_is_counted() -> None:
    p = Scripted("p", {"m1": [Step(batches=5, cut_after=2)]})
    dispatch, engine, routes = build(ONE, {"p": p})
    ctx = chat_ctx(routes, "a", stream=True)
    await dispatch(ctx)
    assert ctx.stream is not None
    received = []
    with pytest.raises(UpstreamUnavailableError):
        async for batch in ctx.stream:
            received.append(batch)
    assert len(received) == 2  # what arrived before the cut, then the error: never a short "end"
    assert engine.counters.midstream_failures == 1
    assert ctx.attempts[0].cause == "midstream_connection"
    assert engine.board.state("p/m1").failures == 1


async def test_idle_timeout_between_chunks() -> None:
    p = Scripted("p", {"m1": [Step(batches=3, gap=1.0)]})
    dispatch, engine, routes = build(ONE, {"p": p}, timeouts={"p": {"idle": 0.05}})
    ctx = chat_ctx(routes, "a", stream=True)
    await dispatch(ctx)
    assert ctx.stream is not None
    started = time.perf_counter()
    with pytest.raises(AttemptTimeout) as caught:
        async for _ in ctx.stream:
            pass
    assert caught.value.kind == "idle" and time.perf_counter() - started < 0.5
    assert p.log.streams_closed == 1
    assert engine.counters.midstream_failures == 1


async def test_a_consumer_that_stops_early_is_no_verdict_on_the_upstream() -> None:
    p = Scripted("p", {"m1": [Step(batches=5, gap=0.01)]})
    dispatch, engine, routes = build(ONE, {"p": p})
    ctx = chat_ctx(routes, "a", stream=True)
    await dispatch(ctx)
    assert ctx.stream is not None
    async for _ in ctx.stream:
        break
    await ctx.stream.aclose()
    state = engine.board.state("p/m1")
    assert (state.calls, state.failures, p.log.streams_closed) == (0, 0, 1)


async def test_hedge_races_the_next_candidate_and_cancels_the_loser() -> None:
    p, q = Scripted("p", {"m1": [Step(delay=1.0)]}), Scripted("q")
    dispatch, engine, routes = build(HEDGED, {"p": p, "q": q})
    ctx = chat_ctx(routes, "a")
    started = time.perf_counter()
    await dispatch(ctx)
    assert time.perf_counter() - started < 0.5
    assert ctx.response_headers["x-pointsman-deployment"] == "q/m2"
    assert ctx.response_headers["x-pointsman-attempts"] == "2"
    assert [(a.deployment, a.outcome) for a in ctx.attempts] == [
        ("p/m1", "cancelled"), ("q/m2", "ok"),
    ]  # fmt: skip
    assert p.log.cancelled == 1
    assert (engine.counters.hedges_started, engine.counters.hedges_won) == (1, 1)


async def test_a_losing_hedged_stream_is_closed() -> None:
    p, q = Scripted("p", {"m1": [Step(ttft=1.0)]}), Scripted("q")
    dispatch, _, routes = build(HEDGED, {"p": p, "q": q})
    ctx = chat_ctx(routes, "a", stream=True)
    await dispatch(ctx)
    assert ctx.response_headers["x-pointsman-deployment"] == "q/m2"
    assert p.log.streams_closed == 1 and p.log.cancelled == 1
    assert len(await drain(ctx)) == 3


async def test_no_hedge_when_the_first_answers_in_time() -> None:
    p, q = Scripted("p"), Scripted("q")
    dispatch, engine, routes = build(HEDGED, {"p": p, "q": q})
    await dispatch(chat_ctx(routes, "a"))
    assert q.log.calls == [] and engine.counters.hedges_started == 0


async def test_a_failed_hedged_call_is_replaced_at_once() -> None:
    failing = UpstreamUnavailableError("p/m1: down", deployment="p/m1", upstream_status=503)
    p, q = Scripted("p", {"m1": [Step(error=failing)]}), Scripted("q", {"m2": [OK]})
    dispatch, engine, routes = build(HEDGED, {"p": p, "q": q})
    ctx = chat_ctx(routes, "a")
    await dispatch(ctx)
    assert p.log.calls == ["m1"]  # no same-deployment retry when hedging
    assert ctx.response_headers["x-pointsman-deployment"] == "q/m2"
    assert engine.counters.hedges_started == 0
