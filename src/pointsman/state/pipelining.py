"""Automatic pipelining of Lua scripts: one round trip per event-loop turn, not per call.

A gateway worker has many requests in flight, and each calls a script or two. Sent one by one,
every call pays for a connection checkout, a write system call and a read of its own; that
overhead, not Redis, bounds a worker. :class:`ScriptPipeline` queues the calls made during one
turn of the event loop and sends them as a single pipeline on one connection, then hands each
caller its own reply. Each EVALSHA stays atomic on its own (a pipeline is not a transaction, and
none is needed: every script is self-contained). Replies come back in order, so results cannot
be crossed.

Failure semantics: if the connection fails mid-batch, every call in that batch fails with the
connection error; nothing is retried, because a script whose reply was lost may have run, and
running it twice would charge twice. A script the server does not know (after a restart or
``SCRIPT FLUSH``) is loaded and run again; that is safe because NOSCRIPT means it did not run.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Sequence
from typing import Any

from redis.asyncio.client import Redis
from redis.asyncio.connection import Connection
from redis.commands.core import AsyncScript
from redis.exceptions import NoScriptError, ResponseError

_Call = tuple[AsyncScript, Sequence[str], Sequence[Any], "asyncio.Future[Any]"]


class ScriptPipeline:
    """Runs scripts for many coroutines, batching the calls of each event-loop turn.

    ``max_batch`` bounds one pipeline (a bigger burst is split over several connections).
    """

    def __init__(self, client: Redis, max_batch: int = 256) -> None:
        self.client = client
        self.max_batch = max_batch
        self._queue: list[_Call] = []
        self._scheduled = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def run(self, script: AsyncScript, keys: Sequence[str], args: Sequence[Any]) -> Any:
        """Run ``script`` and return its reply. Raises what Redis or the connection raised."""
        loop = asyncio.get_running_loop()
        if loop is not self._loop:  # a new loop: whatever the old one had queued is dead
            self._loop, self._queue, self._scheduled = loop, [], False
        future: asyncio.Future[Any] = loop.create_future()
        self._queue.append((script, keys, args, future))
        if not self._scheduled:
            self._scheduled = True
            loop.call_soon(self._flush)
        return await future

    def _flush(self) -> None:
        self._scheduled = False
        queue, self._queue = self._queue, []
        for start in range(0, len(queue), self.max_batch):
            task = asyncio.ensure_future(self._send(queue[start : start + self.max_batch]))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _send(self, batch: list[_Call]) -> None:
        pool = self.client.connection_pool
        try:
            connection = await pool.get_connection()  # type: ignore[no-untyped-call]
        except Exception as error:
            _fail(batch, error)
            return
        try:
            replies = await _exchange(connection, batch)
        except asyncio.CancelledError:
            await connection.disconnect()
            for _, _, _, future in batch:
                future.cancel()
            raise
        except Exception as error:  # the connection is unusable; the caller decides
            await connection.disconnect()
            _fail(batch, error)
            return
        finally:
            await pool.release(connection)
        for (script, keys, args, future), reply in zip(batch, replies, strict=True):
            if future.done():
                continue
            if isinstance(reply, NoScriptError):
                self._retry(script, keys, args, future)
            elif isinstance(reply, ResponseError):
                future.set_exception(reply)
            else:
                future.set_result(reply)

    def _retry(
        self,
        script: AsyncScript,
        keys: Sequence[str],
        args: Sequence[Any],
        future: asyncio.Future[Any],
    ) -> None:
        """Load a script the server forgot and run it again (it did not run the first time)."""

        async def again() -> None:
            try:
                future.set_result(await script(keys=list(keys), args=list(args)))
            except Exception as error:
                if not future.done():
                    future.set_exception(error)

        task = asyncio.ensure_future(again())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)


async def _exchange(connection: Connection, batch: list[_Call]) -> list[Any]:
    packed = b"".join(
        _pack((b"EVALSHA", script.sha, len(keys), *keys, *args)) for script, keys, args, _ in batch
    )
    await connection.send_packed_command(packed)
    replies: list[Any] = []
    for _ in batch:
        try:
            replies.append(await connection.read_response())
        except ResponseError as error:  # an error reply; the stream is still in step
            replies.append(error)
    return replies


def _pack(parts: Sequence[Any]) -> bytes:
    """One command in RESP. Arguments are bytes, str or int (redis-py's general encoder costs
    several times more, and a script call carries a few dozen arguments)."""
    return b"*%d\r\n%b" % (len(parts), b"".join([_bulk(part) for part in parts]))


@functools.lru_cache(maxsize=4096, typed=True)  # typed: True and 1 encode differently
def _bulk(part: bytes | str | int) -> bytes:
    """One argument as a RESP bulk string. Cached: most arguments of a script call (keys,
    limits, window lengths, the script's hash) repeat on every request."""
    data = part if isinstance(part, bytes) else str(part).encode()
    return b"$%d\r\n%b\r\n" % (len(data), data)


def _fail(batch: list[_Call], error: Exception) -> None:
    for _, _, _, future in batch:
        if not future.done():
            future.set_exception(error)
