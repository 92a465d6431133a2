"""The usage writer: usage records go to a bounded in-memory queue, written in batches.

No database round-trip ever happens on the request path: :meth:`UsageWriter.submit` appends to
a deque and returns. A background task writes the queue every ``flush_interval`` seconds, or as
soon as ``batch_size`` records are waiting, each batch in one transaction together with its
daily rollups (:func:`pointsman.store.ledger.write_batch`). Records are written in submission
order.

Durability bound. A record is durable once the batch holding it commits; a batch is taken at
least every ``flush_interval`` seconds while the database answers. So a crash (SIGKILL, OOM,
power loss: SQLite runs with ``synchronous=FULL``) loses at most the records submitted since the
last batch was taken, i.e. about one flush interval of traffic plus the batch in flight. A
clean shutdown loses nothing: :meth:`drain` (call it on SIGTERM / lifespan shutdown) writes
everything queued.

When the queue is full (``max_queue`` records waiting, e.g. while the database is down):

* :meth:`submit` (sync, never blocks) refuses the record and returns False; the caller still
  holds it. Nothing is dropped silently; ``stats.refused`` counts refusals.
* :meth:`put` (async) is the backpressure path: it waits until there is room, so slow storage
  slows the callers instead of losing records. The accounting stage should use
  ``if not writer.submit(record): await writer.put(record)``.

Failures. When a batch fails, the writer probes the ledger table. If the probe fails too (the
database is down, locked or not migrated yet), the batch goes back to the head of the queue and
is retried with exponential backoff (up to ``max_backoff`` seconds). If the probe succeeds, the
database refused the batch for its *data* (a value out of range, say): the batch is retried
record by record, and only records that fail on their own while the probe still succeeds are
given up, each logged at ERROR with its content and counted in ``stats.rejected``.

Concurrency: one writer per engine and event loop; ``submit``/``put`` may be called from any
coroutine on that loop (not from other threads).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from pointsman.store.ledger import write_batch
from pointsman.store.records import UsageRecord
from pointsman.store.tables import usage_records

__all__ = ["FlushReport", "UsageWriter", "UsageWriterStats"]

log = logging.getLogger("pointsman.store")


@dataclass(slots=True)
class UsageWriterStats:
    submitted: int = 0  # accepted into the queue
    written: int = 0  # committed (new rows)
    duplicates: int = 0  # committed batches' records whose request id was already stored
    refused: int = 0  # submit() calls turned away (queue full or writer closed)
    rejected: int = 0  # records the database refused on their own (bad data; logged)
    failed_batches: int = 0  # batch attempts that failed and were retried


@dataclass(frozen=True, slots=True)
class FlushReport:
    """One committed batch: handed to ``on_flush`` (metrics, tests)."""

    records: int
    inserted: int
    taken_at: float  # time.monotonic() when the batch left the queue
    seconds: float  # how long the write took
    last_request_id: str


class UsageWriter:
    """Batches :class:`UsageRecord` writes; see the module docstring for the guarantees."""

    def __init__(
        self,
        engine: AsyncEngine,
        *,
        flush_interval: float = 1.0,
        batch_size: int = 500,
        max_queue: int = 100_000,
        max_backoff: float = 30.0,
        on_flush: Callable[[FlushReport], None] | None = None,
    ) -> None:
        if flush_interval <= 0 or batch_size < 1 or max_queue < 1:
            raise ValueError("flush_interval > 0, batch_size >= 1 and max_queue >= 1 required")
        self.engine = engine
        self.flush_interval = flush_interval
        self.batch_size = batch_size
        self.max_queue = max_queue
        self.max_backoff = max_backoff
        self.on_flush = on_flush
        self.stats = UsageWriterStats()
        self._queue: deque[UsageRecord] = deque()
        self._inflight = 0
        self._wake = asyncio.Event()
        self._room = asyncio.Event()
        self._lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None
        self._closed = False

    @property
    def pending(self) -> int:
        """Records accepted but not yet committed (queued plus the batch being written)."""
        return len(self._queue) + self._inflight

    def submit(self, record: UsageRecord) -> bool:
        """Queue ``record`` without blocking. False (record not taken) if full or closed."""
        if self._closed or self.pending >= self.max_queue:
            self.stats.refused += 1
            return False
        self._queue.append(record)
        self.stats.submitted += 1
        if len(self._queue) >= self.batch_size:
            self._wake.set()
        return True

    async def put(self, record: UsageRecord) -> None:
        """Queue ``record``, waiting for room while the queue is full (backpressure).

        Returns without suspending when there is room. Raises RuntimeError if the writer is
        closed. To bound the wait, wrap the call in ``asyncio.timeout(...)``.
        """
        while not self._closed and self.pending >= self.max_queue:
            self._room.clear()
            await self._room.wait()
        if not self.submit(record):
            raise RuntimeError("the usage writer is closed")

    def start(self) -> None:
        """Start the background flush task on the running loop. Idempotent."""
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="usage-writer")

    async def flush(self) -> bool:
        """Write what is queued now, in batches. True when written, False on a failure.

        Records that arrive during the flush wait for the next one: under load, flushing
        "until empty" would degenerate into a stream of tiny transactions.
        """
        async with self._lock:
            remaining = len(self._queue)
            while remaining > 0:
                count = min(self.batch_size, remaining)
                if not await self._write_next(count):
                    return False
                remaining -= count
            return True

    async def drain(self, max_seconds: float | None = 30.0) -> int:
        """Stop accepting records and write all queued ones (retrying failures with backoff).

        Returns how many records could not be written within ``max_seconds`` (0 on success); those
        are logged at ERROR with their request ids. Call once, at shutdown.
        """
        self._closed = True
        self._room.set()  # wake put() waiters: they now see the writer closed
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        deadline = None if max_seconds is None else time.monotonic() + max_seconds
        backoff = min(0.1, self.max_backoff)
        while not await self.flush():
            if deadline is not None and time.monotonic() + backoff > deadline:
                break
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, self.max_backoff)
        left = len(self._queue)
        if left:
            ids = ", ".join(r.request_id for r in list(self._queue)[:20])
            log.error("usage writer: %d record(s) not written at shutdown: %s ...", left, ids)
        return left

    async def _run(self) -> None:
        backoff = self.flush_interval
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=backoff)
            self._wake.clear()
            if await self.flush():
                backoff = self.flush_interval
            else:
                backoff = min(max(backoff * 2, self.flush_interval), self.max_backoff)

    async def _write_next(self, count: int) -> bool:
        """Write ``count`` records from the head of the queue. Caller holds ``_lock``."""
        batch = [self._queue.popleft() for _ in range(min(count, len(self._queue)))]
        self._inflight = len(batch)
        taken = time.monotonic()
        rejected = self.stats.rejected
        try:
            inserted = await self._write(batch)
        except BaseException as error:
            # Keep the records whatever happened, even on cancellation: if the commit did land,
            # writing them again is a no-op (request ids are unique).
            self._queue.extendleft(reversed(batch))
            if not isinstance(error, Exception):
                raise
            self.stats.failed_batches += 1
            log.warning("usage writer: batch of %d failed (%s); will retry", len(batch), error)
            return False
        finally:
            self._inflight = 0
        self.stats.written += inserted
        self.stats.duplicates += len(batch) - inserted - (self.stats.rejected - rejected)
        self._room.set()
        if self.on_flush is not None:
            seconds = time.monotonic() - taken
            self.on_flush(FlushReport(len(batch), inserted, taken, seconds, batch[-1].request_id))
        return True

    async def _write(self, batch: Sequence[UsageRecord]) -> int:
        try:
            return await self._commit(batch)
        except Exception as error:
            if not await self._healthy():
                raise
            log.warning("usage writer: batch refused while the database is up (%s)", error)
        return await self._write_one_by_one(batch)

    async def _write_one_by_one(self, batch: Sequence[UsageRecord]) -> int:
        """Isolate the records the database refuses for their own data; keep the others.

        A record is given up only if it fails on its own while the ledger table answers a
        probe; if the probe fails too, the database is down and the whole batch is retried
        (records already committed here are then skipped as duplicates).
        """
        inserted = 0
        for record in batch:
            try:
                inserted += await self._commit([record])
            except Exception as error:
                if not await self._healthy():
                    raise
                self.stats.rejected += 1
                log.error("usage writer: record rejected by the database (%s): %r", error, record)
        return inserted

    async def _commit(self, batch: Sequence[UsageRecord]) -> int:
        async with self.engine.begin() as connection:
            return await write_batch(connection, batch)

    async def _healthy(self) -> bool:
        """Does the ledger table answer? (False: down, locked, or not migrated.)"""
        try:
            async with self.engine.connect() as connection:
                await connection.execute(select(usage_records.c.id).limit(0))
        except Exception:
            return False
        return True
