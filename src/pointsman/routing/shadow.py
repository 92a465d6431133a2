"""Shadow traffic: mirror a sample of an alias's requests to a challenger, unseen by the client.

When a request is sampled, a fire-and-forget task sends a non-streamed copy of it to the
challenger alias's first allowed deployment (the same constraints as any call: a regulated
request is never mirrored to a deployment it may not reach), with its own timeout. The client's
request never waits for it and never sees its errors. Both sides (deployment, latency, cost,
answer text, status) land in a :class:`ShadowLog` for comparison (``GET /routing/shadow``).

Shadow spend is real money but not the caller's: each mirrored call is written as its own usage
record with alias ``shadow:<alias>``, feature ``shadow`` and no org, team or key, so it shows in
spend reports and never counts against the caller's budgets.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import deque
from collections.abc import AsyncIterator, Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import msgspec

from pointsman.core.pipeline import RequestContext
from pointsman.core.types import Usage, chunk_view_decoder, completion_view_decoder
from pointsman.errors import PointsmanError
from pointsman.providers.base import ChatCall, ChatProvider, ChatResult, ChatStream
from pointsman.routing.settings import ShadowSettings
from pointsman.routing.subrequest import whole_answer
from pointsman.routing.table import Deployment
from pointsman.store.records import UsageRecord, ledger_ids

MAX_TEXT = 2000  # characters of each answer kept for comparison
Price = Callable[[Deployment, Usage], int]  # micro-USD
Sink = Callable[[UsageRecord], object]


@dataclass(slots=True)
class Side:
    """One side of a comparison."""

    deployment: str | None = None
    status: str = "pending"
    latency_ms: float | None = None
    cost_usd: float | None = None
    output_tokens: int | None = None
    text: str = ""


@dataclass(slots=True)
class Comparison:
    request_id: str
    alias: str
    challenger: str
    at: float  # wall-clock seconds
    primary: Side = field(default_factory=Side)
    shadow: Side = field(default_factory=Side)
    ledger_id: str = ""  # the request's id in the usage ledger (records.ledger_ids)


def _text_of(body: bytes) -> str:
    try:
        view = completion_view_decoder.decode(body)
    except msgspec.DecodeError:
        return ""
    message = view.choices[0].message if view.choices else None
    return ((message.content or "") if message else "")[:MAX_TEXT]


class ShadowLog:
    """The last ``size`` comparisons, newest last, and a summary per (alias, challenger)."""

    def __init__(self, size: int) -> None:
        self.entries: deque[Comparison] = deque(maxlen=size)

    def add(self, comparison: Comparison) -> None:
        self.entries.append(comparison)

    def snapshot(self) -> dict[str, Any]:
        groups: dict[tuple[str, str], list[Comparison]] = {}
        for entry in self.entries:
            groups.setdefault((entry.alias, entry.challenger), []).append(entry)
        summary = [_summary(alias, other, items) for (alias, other), items in groups.items()]
        return {"summary": summary, "comparisons": [asdict(e) for e in self.entries]}


def _mean(values: list[float]) -> float | None:
    return round(sum(values) / len(values), 3) if values else None


def _summary(alias: str, challenger: str, items: list[Comparison]) -> dict[str, Any]:
    done = [c for c in items if c.primary.status == "ok" and c.shadow.status == "ok"]
    return {
        "alias": alias,
        "challenger": challenger,
        "mirrored": len(items),
        "both_ok": len(done),
        "shadow_failed": sum(c.shadow.status not in ("ok", "pending") for c in items),
        "primary_latency_ms": _mean([c.primary.latency_ms or 0.0 for c in done]),
        "shadow_latency_ms": _mean([c.shadow.latency_ms or 0.0 for c in done]),
        "primary_cost_usd": sum(c.primary.cost_usd or 0.0 for c in done),
        "shadow_cost_usd": sum(c.shadow.cost_usd or 0.0 for c in done),
        "same_answer": sum(c.primary.text == c.shadow.text for c in done),
    }


class TeeStream(ChatStream):
    """Passes a stream through unchanged, keeping the first :data:`MAX_TEXT` characters."""

    def __init__(self, inner: ChatStream) -> None:
        self.inner = inner
        self.parts: list[str] = []
        self._kept = 0

    @property
    def usage(self) -> Usage | None:
        return self.inner.usage

    @usage.setter
    def usage(self, value: Usage | None) -> None:
        self.inner.usage = value

    @property
    def finish_reason(self) -> str | None:
        return self.inner.finish_reason

    @finish_reason.setter
    def finish_reason(self, value: str | None) -> None:
        self.inner.finish_reason = value

    async def __aiter__(self) -> AsyncIterator[list[bytes]]:
        async for batch in self.inner:
            if self._kept < MAX_TEXT:
                for payload in batch:
                    self._keep(payload)
            yield batch

    def _keep(self, payload: bytes) -> None:
        try:
            view = chunk_view_decoder.decode(payload)
        except msgspec.DecodeError:
            return
        for choice in view.choices:
            if choice.delta is not None and choice.delta.content:
                self.parts.append(choice.delta.content)
                self._kept += len(choice.delta.content)

    @property
    def text(self) -> str:
        return "".join(self.parts)[:MAX_TEXT]

    async def aclose(self) -> None:
        await self.inner.aclose()


class Shadow:
    """One alias's shadow. ``select`` gives the challenger's allowed deployments for a request;
    ``sink`` takes the shadow usage records (None: not recorded, e.g. governance off)."""

    def __init__(
        self,
        alias: str,
        settings: ShadowSettings,
        select: Callable[[RequestContext, str], list[Deployment]],
        price: Price,
        log: ShadowLog,
        sink: Sink | None,
        catalog_version: str,
        rng: random.Random,
    ) -> None:
        self.alias = alias
        self.settings = settings
        self.select = select
        self.price = price
        self.log = log
        self.sink = sink
        self.catalog_version = catalog_version
        self.rng = rng
        self.tasks: set[asyncio.Task[None]] = set()

    def start(self, ctx: RequestContext) -> Comparison | None:
        """Mirror ``ctx`` if it is sampled (chat only). Returns the comparison to complete with
        the primary's outcome (:meth:`finish`), or None. Never raises."""
        chat = ctx.chat
        if chat is None or self.rng.random() >= self.settings.sample:
            return None
        try:
            candidates = self.select(ctx, self.settings.alias)
        except PointsmanError:
            candidates = []
        deployment = next((d for d in candidates if isinstance(d.provider, ChatProvider)), None)
        if deployment is None:
            return None  # no deployment the request may reach: never mirror it
        comparison = Comparison(
            ctx.request_id,
            self.alias,
            self.settings.alias,
            time.time(),
            ledger_id=ledger_ids(ctx)[0],
        )
        self.log.add(comparison)
        call_chat, body = whole_answer(chat, ctx.body)
        call = ChatCall(call_chat, body, deployment.model, deployment.name)
        task = asyncio.get_running_loop().create_task(self._mirror(deployment, call, comparison))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        return comparison

    async def _mirror(self, deployment: Deployment, call: ChatCall, comparison: Comparison) -> None:
        side = comparison.shadow
        side.deployment = deployment.name
        provider = deployment.provider
        assert isinstance(provider, ChatProvider)
        started = time.perf_counter()
        result: ChatResult | None = None
        try:
            async with asyncio.timeout(self.settings.timeout):
                result = await provider.chat(call)
            side.status = "ok"
        except TimeoutError:
            side.status = "timeout"
        except PointsmanError as error:
            side.status = error.code or type(error).__name__
        except Exception as error:  # a shadow must never fail anything
            side.status = type(error).__name__
        side.latency_ms = round((time.perf_counter() - started) * 1000, 2)
        if result is None:
            return
        cost = self.price(deployment, result.usage)
        side.cost_usd = cost / 1e6
        side.output_tokens = result.usage.completion_tokens
        side.text = _text_of(result.body)
        if self.sink is not None:
            self.sink(
                UsageRecord.from_usage(
                    f"{comparison.ledger_id}:shadow",
                    f"shadow:{self.alias}",
                    result.usage,
                    cost_micros=cost,
                    catalog_version=self.catalog_version,
                    latency_ms=round(side.latency_ms),
                    feature="shadow",
                    deployment=deployment.name,
                    provider=provider.name,
                    model=deployment.model,
                )
            )

    def finish(self, ctx: RequestContext, comparison: Comparison, cost_micros: int) -> None:
        """Record the primary's side once the client's request has completed."""
        side = comparison.primary
        side.deployment = ctx.deployment.name if ctx.deployment is not None else None
        side.status = "ok" if ctx.error is None else (ctx.error.code or "error")
        finished = ctx.finished_at or time.perf_counter()
        side.latency_ms = round((finished - ctx.started) * 1000, 2)
        side.cost_usd = cost_micros / 1e6
        side.output_tokens = ctx.usage.completion_tokens if ctx.usage is not None else None
        if isinstance(ctx.stream, TeeStream):
            side.text = ctx.stream.text
        elif isinstance(ctx.result, ChatResult):
            side.text = _text_of(ctx.result.body)

    async def close(self) -> None:
        """Cancel the mirrors still running (the gateway is closing)."""
        for task in list(self.tasks):
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
