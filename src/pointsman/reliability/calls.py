"""One call to one deployment, under the provider's timeouts.

The connect timeout is the HTTP session's (``providers/http.py``). Here: for a stream, the first
batch must come within ``ttft`` when another candidate could take over (``switchable``), else
within ``total``; later batches within ``idle`` each and the whole stream within ``total``
(see :mod:`.streams`). A non-streamed answer, or embeddings, must come within ``total``. The
deadlines cost one timer per call (:class:`~pointsman.reliability.deadline.Deadline`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import TypeVar

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
from pointsman.reliability.deadline import Deadline
from pointsman.reliability.streams import EndHook, GuardedStream, open_stream
from pointsman.routing.table import Deployment

Answer = ChatResult | EmbeddingResult | GuardedStream
T = TypeVar("T")


def supports(provider: Provider, ctx: RequestContext) -> bool:
    """Whether ``provider`` has the capability this request needs."""
    if ctx.kind == "embeddings":
        return isinstance(provider, EmbeddingsProvider)
    return isinstance(provider, ChatProvider)


async def call_deployment(
    ctx: RequestContext,
    deployment: Deployment,
    timeouts: Timeouts,
    switchable: bool = False,
    on_end: EndHook | None = None,
) -> Answer:
    """Send ``ctx``'s request to ``deployment``. Returns the answer (a stream already primed,
    which reports how it ended through ``on_end``).

    Raises the provider's ``Upstream*`` errors, :class:`AttemptTimeout`, or
    :class:`UnprocessableContentError` when the provider lacks the capability.
    """
    provider = deployment.provider
    if ctx.kind == "embeddings":
        if not isinstance(provider, EmbeddingsProvider) or ctx.embedding is None:
            raise UnprocessableContentError(
                f"'{ctx.alias}' is not served by an embeddings-capable provider", param="model"
            )
        call = EmbeddingCall(ctx.embedding, ctx.body, deployment.model, deployment.name)
        return await _within(provider.embeddings(call), timeouts.total, deployment)
    if not isinstance(provider, ChatProvider) or ctx.chat is None:
        raise UnprocessableContentError(f"'{ctx.alias}' cannot chat", param="model")
    chat_call = ChatCall(ctx.chat, ctx.body, deployment.model, deployment.name)
    if not ctx.streaming:
        return await _within(provider.chat(chat_call), timeouts.total, deployment)
    loop = asyncio.get_running_loop()
    deadline = Deadline(loop)
    now = loop.time()
    end = now + timeouts.total
    ttft = switchable and timeouts.ttft < timeouts.total
    deadline.wait_until(now + timeouts.ttft if ttft else end)
    try:
        stream = await provider.chat_stream(chat_call)
        return await open_stream(
            stream, deployment=deployment.name, idle=timeouts.idle, end=end,
            total=timeouts.total, deadline=deadline, on_end=on_end,
        )  # fmt: skip
    except asyncio.CancelledError:
        if deadline.expired_in():
            kind, seconds = ("ttft", timeouts.ttft) if ttft else ("total", timeouts.total)
            raise AttemptTimeout(deployment.name, kind, seconds) from None
        raise
    except BaseException:
        deadline.close()
        raise
    finally:
        deadline.waiting = False


async def _within(work: Awaitable[T], seconds: float, deployment: Deployment) -> T:
    """Await ``work`` for at most ``seconds``; on expiry, a ``total`` :class:`AttemptTimeout`."""
    loop = asyncio.get_running_loop()
    deadline = Deadline(loop)
    deadline.wait_until(loop.time() + seconds)
    try:
        return await work
    except asyncio.CancelledError:
        if deadline.expired_in():
            raise AttemptTimeout(deployment.name, "total", seconds) from None
        raise
    finally:
        deadline.close()
