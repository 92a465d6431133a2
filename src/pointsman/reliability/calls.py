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
    work: Awaitable[ChatResult | EmbeddingResult]
    if ctx.kind == "embeddings":
        if not isinstance(provider, EmbeddingsProvider) or ctx.embedding is None:
            raise UnprocessableContentError(
                f"'{ctx.alias}' is not served by an embeddings-capable provider", param="model"
            )
        work = provider.embeddings(
            EmbeddingCall(ctx.embedding, ctx.body, deployment.model, deployment.name)
        )
    elif not isinstance(provider, ChatProvider) or ctx.chat is None:
        raise UnprocessableContentError(f"'{ctx.alias}' cannot chat", param="model")
    else:
        chat_call = ChatCall(ctx.chat, ctx.body, deployment.model, deployment.name)
        if ctx.streaming:
            return await _stream(provider, chat_call, timeouts, switchable, on_end)
        work = provider.chat(chat_call)
    loop = asyncio.get_running_loop()
    deadline = Deadline(loop)
    deadline.wait_until(loop.time() + timeouts.total)
    try:
        return await work
    except asyncio.CancelledError:
        if deadline.expired_in():
            raise AttemptTimeout(deployment.name, "total", timeouts.total) from None
        raise
    finally:
        deadline.close()


async def _stream(
    provider: ChatProvider,
    chat_call: ChatCall,
    timeouts: Timeouts,
    switchable: bool,
    on_end: EndHook | None,
) -> GuardedStream:
    """Open and prime a stream: first batch within ``ttft`` (when ``switchable``) or ``total``."""
    name = chat_call.deployment
    loop = asyncio.get_running_loop()
    deadline = Deadline(loop)
    now = loop.time()
    end = now + timeouts.total
    ttft = switchable and timeouts.ttft < timeouts.total
    first_by = now + timeouts.ttft if ttft else end
    deadline.wait_until(first_by, wake=min(first_by, now + timeouts.idle))
    try:
        stream = await provider.chat_stream(chat_call)
        return await open_stream(
            stream, deployment=name, idle=timeouts.idle, end=end,
            total=timeouts.total, deadline=deadline, on_end=on_end,
        )  # fmt: skip
    except asyncio.CancelledError:
        if deadline.expired_in():
            kind, seconds = ("ttft", timeouts.ttft) if ttft else ("total", timeouts.total)
            raise AttemptTimeout(name, kind, seconds) from None
        raise
    except BaseException:
        deadline.close()
        raise
    finally:
        deadline.waiting = False
