"""Scripted in-memory providers for unit tests of the attempt loop (no sockets).

A :class:`Scripted` provider answers each call with the next :class:`Step` of its script (the
last step repeats): after ``delay`` seconds it raises ``error`` or answers; a stream then waits
``ttft`` before its first batch, ``gap`` between batches, and raises ``cut`` after ``cut_after``
batches.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

from pointsman.config import ProviderConfig, parse_config
from pointsman.core.pipeline import RequestContext
from pointsman.core.types import ChatRequest, EmbeddingRequest, Message, Usage
from pointsman.errors import PointsmanError, UpstreamUnavailableError
from pointsman.providers.base import (
    ChatCall,
    ChatProvider,
    ChatResult,
    ChatStream,
    EmbeddingCall,
    EmbeddingResult,
    EmbeddingsProvider,
    ModelListProvider,
)
from pointsman.reliability.dispatch import Dispatcher
from pointsman.reliability.engine import Reliability
from pointsman.routing.table import RouteTable


@dataclass
class Step:
    delay: float = 0.0
    error: PointsmanError | None = None
    ttft: float = 0.0
    batches: int = 3
    gap: float = 0.0
    cut_after: int | None = None


OK = Step()


@dataclass
class Log:
    calls: list[str] = field(default_factory=list)  # model per call, in order
    cancelled: int = 0
    streams_closed: int = 0
    streams_finished: int = 0


class Scripted(ChatProvider, EmbeddingsProvider, ModelListProvider):
    protocol = "openai"

    def __init__(self, name: str, scripts: dict[str, list[Step]] | None = None) -> None:
        super().__init__(name, ProviderConfig(protocol="openai", base_url=f"http://{name}/v1"))
        self.scripts = scripts or {}
        self.log = Log()
        self.list_error: PointsmanError | None = None

    def step(self, model: str) -> Step:
        self.log.calls.append(model)
        script = self.scripts.get(model) or [OK]
        return script.pop(0) if len(script) > 1 else script[0]

    async def _begin(self, model: str) -> Step:
        step = self.step(model)
        try:
            await asyncio.sleep(step.delay)
        except asyncio.CancelledError:
            self.log.cancelled += 1
            raise
        if step.error is not None:
            raise step.error
        return step

    async def chat(self, call: ChatCall) -> ChatResult:
        await self._begin(call.model)
        body = b'{"choices":[{"message":{"content":"hi"}}],"by":"%s"}' % call.deployment.encode()
        return ChatResult(body=body, usage=Usage(prompt_tokens=1, completion_tokens=1))

    async def chat_stream(self, call: ChatCall) -> ChatStream:
        step = await self._begin(call.model)
        return FakeStream(self.log, step, call.deployment)

    async def embeddings(self, call: EmbeddingCall) -> EmbeddingResult:
        await self._begin(call.model)
        return EmbeddingResult(body=b'{"data":[]}', usage=Usage(prompt_tokens=1))

    async def list_models(self) -> list[str]:
        self.log.calls.append("(models)")
        if self.list_error is not None:
            raise self.list_error
        return list(self.scripts)


class FakeStream(ChatStream):
    def __init__(self, log: Log, step: Step, deployment: str) -> None:
        self.log, self.step, self.deployment = log, step, deployment
        self.closed = False

    async def __aiter__(self) -> AsyncIterator[list[bytes]]:
        step = self.step
        try:
            await asyncio.sleep(step.ttft)
            for i in range(step.batches):
                if step.cut_after is not None and i == step.cut_after:
                    raise UpstreamUnavailableError(
                        f"{self.deployment}: connection lost mid-stream",
                        deployment=self.deployment,
                    )
                if i:
                    await asyncio.sleep(step.gap)
                yield [b'{"i":%d}' % i]
        except asyncio.CancelledError:
            self.log.cancelled += 1
            raise
        self.usage = Usage(prompt_tokens=1, completion_tokens=step.batches)
        self.finish_reason = "stop"
        self.log.streams_finished += 1

    async def aclose(self) -> None:
        if not self.closed:
            self.closed = True
            self.log.streams_closed += 1


class Clock:
    """A monotonic clock tests move by hand (breaker cooldowns), starting at 1000 s."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


FAST_RETRY = {"backoff_base": 0.001, "backoff_max": 0.002, "max_wait": 0.05}


def build(
    models: dict[str, Any],
    providers: dict[str, Scripted],
    reliability: dict[str, Any] | None = None,
    timeouts: dict[str, dict[str, float]] | None = None,
    clock: Callable[[], float] | None = None,
) -> tuple[Dispatcher, Reliability, RouteTable]:
    """A dispatcher over scripted providers, from a config like a user would write."""
    settings = {"retry": dict(FAST_RETRY), **(reliability or {})}
    data = {
        "server": {"auth": "none"},
        "providers": {
            name: {
                "protocol": "openai",
                "base_url": f"http://{name}/v1",
                **({"timeouts": timeouts[name]} if timeouts and name in timeouts else {}),
            }
            for name in providers
        },
        "models": models,
        "reliability": settings,
        "governance": {"enabled": False},
    }
    config = parse_config(data, env={}, protocols=("openai",))
    routes = RouteTable.from_config(config, providers)
    engine = Reliability(config, clock=clock or Clock(), rng=random.Random(7))
    return engine.dispatcher(config, routes), engine, routes


def chat_ctx(
    routes: RouteTable, alias: str, *, stream: bool = False, rid: str = "r1"
) -> RequestContext:
    body = {"model": alias, "messages": [{"role": "user", "content": "hi"}], "stream": stream}
    request = ChatRequest(model=alias, messages=[Message(role="user", content="hi")], stream=stream)
    ctx = RequestContext(rid, "chat", body, {}, chat=request, alias=alias)
    ctx.candidates = list(routes.aliases[alias])  # routing's order, no weighted draw
    return ctx


def embed_ctx(routes: RouteTable, alias: str) -> RequestContext:
    body = {"model": alias, "input": "hi"}
    request = EmbeddingRequest(model=alias, input="hi")
    ctx = RequestContext("r1", "embeddings", body, {}, embedding=request, alias=alias)
    ctx.candidates = list(routes.aliases[alias])
    return ctx


async def drain(ctx: RequestContext) -> list[list[bytes]]:
    assert ctx.stream is not None
    batches = [batch async for batch in ctx.stream]
    await ctx.stream.aclose()
    return batches
