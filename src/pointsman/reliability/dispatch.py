"""The terminal of the pipeline: send the request to a deployment and attach the answer.

A stream is *primed* here: the dispatcher waits for its first batch of payloads before
returning, so any
failure up to the first token surfaces as an ordinary error while nothing has been sent to the
client yet (and can fail over). Only after that does the edge start the HTTP response.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

from pointsman.core.pipeline import Attempt, RequestContext
from pointsman.errors import PointsmanError, UnprocessableContentError
from pointsman.providers.base import (
    ChatCall,
    ChatProvider,
    ChatStream,
    EmbeddingCall,
    EmbeddingsProvider,
)
from pointsman.routing.table import Deployment


class PrimedStream(ChatStream):
    """A stream whose first batch has already been read from the upstream."""

    def __init__(
        self, inner: ChatStream, iterator: AsyncIterator[list[bytes]], first: list[bytes] | None
    ) -> None:
        self._inner = inner
        self._iterator = iterator
        self._first = first

    async def __aiter__(self) -> AsyncIterator[list[bytes]]:
        if self._first is not None:
            first, self._first = self._first, None
            yield first
            async for batch in self._iterator:
                yield batch
        self.usage = self._inner.usage
        self.finish_reason = self._inner.finish_reason

    async def aclose(self) -> None:
        await self._inner.aclose()


async def prime(stream: ChatStream) -> PrimedStream:
    """Read the first batch. Raises what the upstream raised; closes the stream on failure."""
    iterator = aiter(stream)
    try:
        first = await anext(iterator, None)
    except BaseException:
        await stream.aclose()
        raise
    return PrimedStream(stream, iterator, first)


class Dispatcher:
    """Calls the first candidate. (The reliability issue turns this into the full attempt loop.)"""

    async def __call__(self, ctx: RequestContext) -> None:
        deployment = ctx.candidates[0]
        attempt = Attempt(deployment.name, 1, time.perf_counter())
        ctx.attempts.append(attempt)
        try:
            await self._call(ctx, deployment)
        except PointsmanError as error:
            attempt.outcome = error.code or type(error).__name__
            raise
        finally:
            attempt.latency = time.perf_counter() - attempt.started
        ctx.deployment = deployment
        ctx.response_headers["x-pointsman-deployment"] = deployment.name

    async def _call(self, ctx: RequestContext, deployment: Deployment) -> None:
        provider = deployment.provider
        if ctx.kind == "embeddings":
            if not isinstance(provider, EmbeddingsProvider) or ctx.embedding is None:
                raise UnprocessableContentError(
                    f"'{ctx.alias}' is not served by an embeddings-capable provider", param="model"
                )
            call = EmbeddingCall(ctx.embedding, ctx.body, deployment.model, deployment.name)
            result = await provider.embeddings(call)
            ctx.result, ctx.usage = result, result.usage
            return
        if not isinstance(provider, ChatProvider) or ctx.chat is None:
            raise UnprocessableContentError(f"'{ctx.alias}' cannot chat", param="model")
        chat_call = ChatCall(ctx.chat, ctx.body, deployment.model, deployment.name)
        if ctx.streaming:
            ctx.stream = await prime(await provider.chat_stream(chat_call))
            ctx.first_token_at = time.perf_counter()
        else:
            chat_result = await provider.chat(chat_call)
            ctx.result, ctx.usage = chat_result, chat_result.usage
