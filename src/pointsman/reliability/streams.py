"""Streams as the attempt loop hands them to the edge: primed, with idle and total deadlines.

A stream is *primed*: :func:`open_stream` reads its first batch before the HTTP response starts,
so a failure up to the first token is an ordinary error while nothing has reached the client
(and the loop can fail over). After that, :class:`GuardedStream` bounds the wait for each next
batch by the idle timeout and the call's total deadline (one timer for the whole stream, see
:mod:`.deadline`; time spent writing to a slow client does not count), and reports how the
stream ended (complete, or failed mid-stream) exactly once through ``on_end``.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

from pointsman.errors import PointsmanError
from pointsman.providers.base import ChatStream
from pointsman.reliability.classify import AttemptTimeout
from pointsman.reliability.deadline import Deadline

# on_end(error): None when the stream completed; the error when it failed mid-stream.
EndHook = Callable[[PointsmanError | None], None]


class GuardedStream(ChatStream):
    """A stream whose first batch is already read, with deadlines on the rest.

    Args:
        inner: the provider's stream; closed by :meth:`aclose` and on any failure.
        iterator: ``aiter(inner)``, already advanced past ``first``.
        first: the first batch (None for a stream that ended at once).
        deployment: for error messages.
        idle: longest wait for one batch, in seconds.
        end: ``loop.time()`` by which the whole stream must be done (``total`` after its start).
        deadline: the call's deadline timer (closed when the stream ends).
        on_end: called once: ``None`` on completion, the error on a mid-stream failure; never
            when the consumer stops early (client gone).

    A mid-stream timeout raises :class:`AttemptTimeout` (``idle`` or ``total``) after closing
    the upstream connection; provider errors pass through unchanged.
    """

    def __init__(
        self,
        inner: ChatStream,
        iterator: AsyncIterator[list[bytes]],
        first: list[bytes] | None,
        *,
        deployment: str,
        idle: float,
        end: float,
        total: float,
        deadline: Deadline,
        on_end: EndHook | None = None,
    ) -> None:
        self._inner = inner
        self._iterator = iterator
        self._first = first
        self._deployment = deployment
        self._idle = idle
        self._end_at = end
        self._total = total
        self._deadline = deadline
        self._on_end = on_end

    async def __aiter__(self) -> AsyncIterator[list[bytes]]:
        first, self._first = self._first, None
        deadline = self._deadline
        if first is not None:
            yield first
            loop = asyncio.get_running_loop()
            iterator, idle, end = self._iterator, self._idle, self._end_at
            while True:
                idle_at = loop.time() + idle
                deadline.wait_until(idle_at if idle_at < end else end)
                try:
                    batch = await anext(iterator)
                except StopAsyncIteration:
                    break
                except asyncio.CancelledError:
                    if not deadline.expired_in():
                        raise
                    kind = "idle" if idle_at < end else "total"
                    seconds = idle if kind == "idle" else self._total
                    error = AttemptTimeout(self._deployment, kind, seconds)
                    await self._fail(error)
                    raise error from None
                except PointsmanError as error:
                    await self._fail(error)
                    raise
                finally:
                    deadline.waiting = False
                yield batch
        deadline.close()
        self.usage = self._inner.usage
        self.finish_reason = self._inner.finish_reason
        self._end(None)

    async def _fail(self, error: PointsmanError) -> None:
        self._deadline.close()
        await self._inner.aclose()
        self._end(error)

    def _end(self, error: PointsmanError | None) -> None:
        hook, self._on_end = self._on_end, None
        if hook is not None:
            hook(error)

    async def aclose(self) -> None:
        self._on_end = None  # abandoned by the consumer: no verdict on the upstream
        self._deadline.close()
        await self._inner.aclose()


async def open_stream(
    stream: ChatStream,
    *,
    deployment: str,
    idle: float,
    end: float,
    total: float,
    deadline: Deadline,
    on_end: EndHook | None = None,
) -> GuardedStream:
    """Read the first batch (under ``deadline``, already armed by the caller) and wrap the
    stream. Raises what the upstream raised, closing it."""
    iterator = aiter(stream)
    try:
        first = await anext(iterator, None)
    except BaseException:
        await stream.aclose()
        raise
    return GuardedStream(
        stream, iterator, first, deployment=deployment, idle=idle, end=end, total=total,
        deadline=deadline, on_end=on_end,
    )  # fmt: skip
