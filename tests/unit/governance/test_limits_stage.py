"""The RateLimits stage, run through the real Pipeline."""

from __future__ import annotations

from collections.abc import Sequence

import msgspec
import pytest

from pointsman.core.pipeline import Caller, Pipeline, RequestContext
from pointsman.core.types import ChatRequest, Usage
from pointsman.errors import RateLimitError, ServiceUnavailableError, UpstreamTimeoutError
from pointsman.governance.enforce import RateLimits, estimate_tokens
from pointsman.governance.limits import LimitBook, LimitSpec, RateLimiter, Ticket
from pointsman.providers.base import ChatResult
from pointsman.state.base import Admission, Check, StateUnavailableError
from pointsman.state.memory import MemoryBackend


def context(max_tokens: int = 200) -> RequestContext:
    body = {
        "model": "fast",
        "messages": [{"role": "user", "content": "x" * 400}],  # about 100 tokens
        "max_tokens": max_tokens,
    }
    ctx = RequestContext("req-1", "chat", body, {})
    ctx.chat = msgspec.convert(body, ChatRequest)
    ctx.alias, ctx.caller = "fast", Caller(key_id="k1", name="key one")
    return ctx


async def answer(ctx: RequestContext) -> None:
    ctx.usage = Usage(prompt_tokens=100, completion_tokens=20)
    ctx.result = ChatResult(body=b"{}", usage=ctx.usage)


def limits(book: LimitBook, **kw: object) -> RateLimits:
    return RateLimits(RateLimiter(MemoryBackend(), book), **kw)  # type: ignore[arg-type]


def test_token_estimate_is_prompt_plus_output_cap() -> None:
    assert estimate_tokens(context(max_tokens=200)) == 3 + 4 + 100 + 200


async def test_admits_sets_headers_and_settles_actual_tokens() -> None:
    stage = limits(LimitBook(keys={"k1": LimitSpec(rpm=10, tpm=1000)}))
    pipeline = Pipeline([stage], answer)
    ctx = context()
    await pipeline.run(ctx)
    assert ctx.response_headers["x-ratelimit-remaining-requests"] == "9"
    assert ctx.response_headers["x-ratelimit-remaining-tokens"] == str(1000 - 307)
    assert isinstance(ctx.notes["rate_limits"], Ticket)
    await pipeline.complete(ctx)
    after = context()
    await pipeline.run(after)  # the first request now weighs its 120 real tokens
    assert after.response_headers["x-ratelimit-remaining-tokens"] == str(1000 - 120 - 307)


async def test_refusals_carry_retry_after_and_model_limits_apply() -> None:
    stage = limits(LimitBook(models={"fast": LimitSpec(rpm=1)}))
    pipeline = Pipeline([stage], answer)
    await pipeline.run(context())
    with pytest.raises(RateLimitError) as refused:
        await pipeline.run(context())
    assert "model 'fast'" in refused.value.message
    assert refused.value.headers["Retry-After"] == "60"


async def test_concurrency_slots_are_released_even_when_the_upstream_fails() -> None:
    stage = limits(LimitBook(keys={"k1": LimitSpec(concurrent=1)}))

    async def timeout(ctx: RequestContext) -> None:
        raise UpstreamTimeoutError("slow", deployment="sim/sim-small")

    for _ in range(3):  # each failure completes the context and frees the slot
        with pytest.raises(UpstreamTimeoutError):
            await Pipeline([stage], timeout).run(context())


async def test_cost_bucket_uses_the_cost_callables() -> None:
    book = LimitBook(keys={"k1": LimitSpec(usd_per_second=0.001, burst_usd=0.002)})
    stage = limits(book, estimate_cost=lambda ctx: 1_500, actual_cost=lambda ctx: 100)
    pipeline = Pipeline([stage], answer)
    first = context()
    await pipeline.run(first)
    with pytest.raises(RateLimitError, match="USD per second"):
        await pipeline.run(context())
    await pipeline.complete(first)  # refunds 1,400
    await pipeline.run(context())


class Unreachable(MemoryBackend):
    async def acquire(self, checks: Sequence[Check], entry_id: str) -> Admission:
        raise StateUnavailableError("redis at redis://cache:6379/0 unreachable")


async def test_unreachable_state_fails_closed_unless_told_otherwise() -> None:
    book = LimitBook(keys={"k1": LimitSpec(rpm=10)})
    with pytest.raises(ServiceUnavailableError, match="cannot be checked"):
        await Pipeline([RateLimits(RateLimiter(Unreachable(), book))], answer).run(context())
    stage = RateLimits(RateLimiter(Unreachable(), book), fail_open=True)
    pipeline = Pipeline([stage], answer)
    ctx = context()
    await pipeline.run(ctx)
    await pipeline.complete(ctx)
    assert ctx.result is not None and "rate_limits" not in ctx.notes
