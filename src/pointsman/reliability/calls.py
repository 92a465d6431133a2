"""One call to one deployment, under the provider's timeouts.

The connect timeout is the HTTP session's (``providers/http.py``). Here: for a stream, the first
batch must come within ``ttft`` when another candidate could take over (``switchable``), else
within ``total``; later batches within ``idle`` each and the whole stream within ``total``
(see :mod:`.streams`). A non-streamed answer, or embeddings, must come within ``total``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from dataclasses import dataclass
from typing import Any, TypeVar

from pointsman.config import Timeouts
from pointsman.core.pipeline import RequestContext
from pointsman.errors import UnprocessableContentError
from pointsman.providers.base import (
    ChatCall,
    ChatProvider,
    ChatResult,
    EmbeddingCall,
    EmbeddingResult,
    EmbeddingsProvider,
    Provider,
)
from pointsman.reliability.classify import AttemptTimeout
from pointsman.reliability.streams import EndHook, GuardedStream, open_stream
from pointsman.routing.table import Deployment

Answer = ChatResult | EmbeddingResult | GuardedStream
T = TypeVar("T")


def supports(provider: Provider, ctx: RequestContext) -> bool:
    """Whether ``provider`` has the capability this request needs."""
    if ctx.kind == "embeddings":
        return isinstance(provider, EmbeddingsProvider)
    return isinstance(provider, ChatProvider)


@dataclass(slots=True, frozen=True)
class CallPlan:
    """How to call: the provider's timeouts, whether a TTFT timeout may abandon the call, and
    the hook told how a stream ended."""

    timeouts: Timeouts
    switchable: bool = False
    on_end: EndHook | None = None


async def call_deployment(ctx: RequestContext, deployment: Deployment, plan: CallPlan) -> Answer:
    """Send ``ctx``'s request to ``deployment``. Returns the answer (a stream already primed).

    Raises the provider's ``Upstream*`` errors, :class:`AttemptTimeout`, or
    :class:`UnprocessableContentError` when the provider lacks the capability.
    """
    provider = deployment.provider
    timeouts = plan.timeouts
    if ctx.kind == "embeddings":
        if not isinstance(provider, EmbeddingsProvider) or ctx.embedding is None:
            raise UnprocessableContentError(
                f"'{ctx.alias}' is not served by an embeddings-capable provider", param="model"
            )
        call = EmbeddingCall(ctx.embedding, ctx.body, deployment.model, deployment.name)
        return await _bounded(provider.embeddings(call), timeouts.total, "total", deployment)
    if not isinstance(provider, ChatProvider) or ctx.chat is None:
        raise UnprocessableContentError(f"'{ctx.alias}' cannot chat", param="model")
    chat_call = ChatCall(ctx.chat, ctx.body, deployment.model, deployment.name)
    if not ctx.streaming:
        return await _bounded(provider.chat(chat_call), timeouts.total, "total", deployment)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeouts.total
    ttft = plan.switchable and timeouts.ttft < timeouts.total
    first_by = loop.time() + timeouts.ttft if ttft else deadline
    try:
        async with asyncio.timeout_at(first_by) as scope:
            stream = await provider.chat_stream(chat_call)
            return await open_stream(
                stream,
                deployment=deployment.name,
                idle=timeouts.idle,
                deadline=deadline,
                on_end=plan.on_end,
            )
    except TimeoutError:
        if not scope.expired():
            raise
        kind, seconds = ("ttft", timeouts.ttft) if ttft else ("total", timeouts.total)
        raise AttemptTimeout(deployment.name, kind, seconds) from None


async def _bounded(
    work: Coroutine[Any, Any, T], seconds: float, kind: str, deployment: Deployment
) -> T:
    """Await ``work`` for at most ``seconds``; on expiry, :class:`AttemptTimeout` of ``kind``."""
    try:
        async with asyncio.timeout(seconds) as scope:
            return await work
    except TimeoutError:
        if not scope.expired():
            raise
        raise AttemptTimeout(deployment.name, kind, seconds) from None
