"""Relaying a canonical stream to a client in the client's wire format.

Every inbound wire format streams the same way: frame each batch of canonical chunk payloads,
frame the end, or frame the error that cut the stream short; then, whatever happened (the
client may also have gone away), release the upstream, run the pipeline's ``on_complete``
hooks with the final usage, and leave the gateway. Only the framing differs, so each format
supplies a :class:`Framer` and this module owns the lifecycle.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import Protocol

from pointsman.core.pipeline import RequestContext
from pointsman.errors import PointsmanError
from pointsman.gateway import Gateway
from pointsman.providers.base import ChatStream

__all__ = ["Framer", "relay"]


class Framer(Protocol):
    """Turns canonical stream events into the bytes of one client wire format."""

    def batch(self, payloads: list[bytes]) -> bytes:
        """One batch of canonical ``chat.completion.chunk`` payloads (may frame to b"")."""
        ...

    def end(self, stream: ChatStream) -> bytes:
        """The end of a complete stream (``stream.usage`` and ``finish_reason`` are final)."""
        ...

    def error(self, error: PointsmanError) -> bytes:
        """A failure after the response started: the last bytes the client gets."""
        ...


async def relay(
    gateway: Gateway, ctx: RequestContext, stream: ChatStream, framer: Framer
) -> AsyncGenerator[bytes, None]:
    """The framed body of a streamed answer; completes the request when it ends.

    A failure after the first byte is framed by ``framer.error`` and ends the stream without
    the format's end marker, so a client never mistakes a cut answer for a whole one.
    """
    try:
        async for batch in stream:
            for tap in ctx.stream_taps:  # e.g. the cache keeping the answer (core/pipeline.py)
                tap(batch)
            data = framer.batch(batch)
            if data:
                yield data
        ctx.usage = stream.usage
        yield framer.end(stream)
    except PointsmanError as error:
        ctx.error = error
        yield framer.error(error)
    finally:
        try:
            await stream.aclose()
        finally:
            await gateway.release(ctx)
