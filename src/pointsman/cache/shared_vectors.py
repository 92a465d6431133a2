"""Sharing semantic vectors between replicas: an append-only log in Redis, mirrored locally.

Every replica keeps its own :class:`~pointsman.cache.index.VectorIndex` (lookups stay
in-process: under a millisecond at 100,000 vectors) and appends each vector it adds to one
Redis stream (``P vec``, trimmed to about ``max_entries``). A background task reads what the
other replicas appended every ``sync_seconds`` and adds it to the local index; a new replica
replays the stream at start. Purges travel the same way. So a semantic entry stored by one
replica answers on another within ``sync_seconds``.

Why not a vector database: pgvector or a Redis search module would put a network round trip
and a server-side ANN search on every lookup and add a dependency a plain Redis does not
have; the mirror costs one small XADD per stored answer and one XREAD per interval, and the
answers themselves stay in the shared exact store (a vector only points at its exact key).
"""

from __future__ import annotations

import asyncio
import logging
import os
from typing import Any

import numpy as np
from redis.asyncio.client import Redis

from pointsman.cache.embedders import Vectors
from pointsman.cache.index import VectorIndex

__all__ = ["VectorLog"]

log = logging.getLogger("pointsman.cache")
READ_BATCH = 2000


class VectorLog:
    """The Redis stream of vectors and purges; :meth:`sync` applies news to ``index``."""

    def __init__(self, client: Redis, prefix: str, max_entries: int, index: VectorIndex) -> None:
        self.client = client
        self.stream = prefix + "vec"
        self.max_entries = max_entries
        self.index = index
        self.origin = os.urandom(6).hex()  # this replica: its own appends are already applied
        self.last_id = "0-0"

    async def append(self, partition: str, key: str, vector: Vectors, expires: float) -> None:
        fields: dict[Any, Any] = {
            "o": self.origin,
            "p": partition,
            "k": key,
            "x": repr(expires),
            "v": np.asarray(vector, dtype="<f4").tobytes(),
        }
        await self.client.xadd(self.stream, fields, maxlen=self.max_entries, approximate=True)

    async def purge(self, prefix: str | None) -> None:
        fields: dict[Any, Any] = {"o": self.origin, "purge": prefix or ""}
        await self.client.xadd(self.stream, fields, maxlen=self.max_entries, approximate=True)

    async def sync(self) -> int:
        """Apply every entry appended since the last call. Returns how many were read."""
        applied = 0
        while True:
            reply: Any = await self.client.xread({self.stream: self.last_id}, count=READ_BATCH)
            if not reply:
                return applied
            entries = reply[0][1]
            for entry_id, fields in entries:
                self.last_id = entry_id.decode() if isinstance(entry_id, bytes) else entry_id
                self._apply(fields)
            applied += len(entries)
            if len(entries) < READ_BATCH:
                return applied

    def _apply(self, fields: dict[bytes, bytes]) -> None:
        if fields.get(b"o", b"").decode() == self.origin:
            return
        if b"purge" in fields:
            prefix = fields[b"purge"].decode()
            self.index.purge(prefix or None)
            return
        vector = np.frombuffer(fields[b"v"], dtype="<f4").astype(np.float32)
        self.index.add(
            fields[b"p"].decode(), vector, fields[b"k"].decode(), float(fields[b"x"].decode())
        )

    async def run(self, interval: float) -> None:
        """Sync every ``interval`` seconds until cancelled; a Redis outage only delays it."""
        while True:
            try:
                await self.sync()
            except Exception as error:  # keep the local index; try again next interval
                log.warning("semantic cache: reading shared vectors failed: %s", error)
            await asyncio.sleep(interval)
