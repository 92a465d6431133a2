"""The pipeline contract: order, short-circuit, reverse completion exactly once."""

from __future__ import annotations

import pytest

from pointsman.core.pipeline import Pipeline, RequestContext, Stage
from pointsman.core.types import Usage
from pointsman.errors import InvalidRequestError, PointsmanError
from pointsman.providers.base import ChatResult


class Recorder(Stage):
    def __init__(self, name: str, log: list[str], refuse: bool = False, answer: bool = False):
        self.label, self.log, self.refuse, self.answer = name, log, refuse, answer

    async def on_request(self, ctx: RequestContext) -> None:
        self.log.append(f"{self.label}.request")
        if self.refuse:
            raise InvalidRequestError(f"{self.label} refused")
        if self.answer:
            ctx.result = ChatResult(body=b"{}", usage=Usage())

    async def on_complete(self, ctx: RequestContext) -> None:
        self.log.append(f"{self.label}.complete")


def context() -> RequestContext:
    return RequestContext("r1", "chat", {}, {})


def make(log: list[str], **flags: dict) -> Pipeline:
    stages = [Recorder(n, log, **flags.get(n, {})) for n in ("a", "b", "c")]

    async def terminal(ctx: RequestContext) -> None:
        log.append("dispatch")

    return Pipeline(stages, terminal)


async def test_order_and_reverse_completion() -> None:
    log: list[str] = []
    pipeline, ctx = make(log), context()
    await pipeline.run(ctx)
    await pipeline.complete(ctx)
    await pipeline.complete(ctx)  # idempotent
    assert log == [
        "a.request", "b.request", "c.request", "dispatch",
        "c.complete", "b.complete", "a.complete",
    ]  # fmt: skip


async def test_short_circuit_skips_later_stages_and_dispatch() -> None:
    log: list[str] = []
    pipeline, ctx = make(log, b={"answer": True}), context()
    await pipeline.run(ctx)
    await pipeline.complete(ctx)
    assert log == ["a.request", "b.request", "b.complete", "a.complete"]


async def test_refusal_completes_only_stages_that_ran_and_reraises() -> None:
    log: list[str] = []
    pipeline, ctx = make(log, b={"refuse": True}), context()
    with pytest.raises(PointsmanError):
        await pipeline.run(ctx)
    assert log == ["a.request", "b.request", "b.complete", "a.complete"]
    assert isinstance(ctx.error, InvalidRequestError)
