"""Virtual keys on the hot path: an in-memory lookup, refreshed when the store changes.

Authentication never touches the database. The cache maps the SHA-256 of each usable secret to
a :class:`~pointsman.core.pipeline.Caller`; a lookup is one hash and one dict access. It is
rebuilt when the key table's fingerprint (count, newest creation, newest revocation) changes,
checked every ``refresh_seconds`` off the request path, and at once when this process changes a
key itself (``invalidate``). Across replicas a revoked key therefore stops working within one
refresh interval (1 s by default).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from typing import Any

from pointsman.core.pipeline import Caller
from pointsman.store.keys import KeyStore, VirtualKey

log = logging.getLogger("pointsman.governance")


def _caller(key: VirtualKey) -> Caller:
    return Caller(
        key_id=key.id,
        name=key.name,
        aliases=key.allowed_aliases,
        org_id=key.org_id,
        team_id=key.team_id,
        user_id=key.user_id,
        data_class=key.data_class_ceiling,
        log_bodies=key.metadata.get("log_bodies") is True,
    )


def _deadline(key: VirtualKey) -> float:
    """Epoch seconds after which the key stops working (expiry or a rotation's grace end)."""
    ends = [t.timestamp() for t in (key.expires_at, key.revoked_at) if t is not None]
    return min(ends) if ends else float("inf")


class KeyCache:
    """Implements the :class:`~pointsman.governance.auth.KeyLookup` protocol."""

    def __init__(self, store: KeyStore, refresh_seconds: float = 1.0) -> None:
        self.store = store
        self.refresh_seconds = refresh_seconds
        self._by_hash: dict[str, tuple[Caller, float]] = {}
        self._fingerprint: tuple[Any, ...] | None = None
        self._task: asyncio.Task[None] | None = None

    def lookup(self, token: str) -> Caller | None:
        entry = self._by_hash.get(hashlib.sha256(token.encode()).hexdigest())
        if entry is None or entry[1] <= time.time():
            return None
        return entry[0]

    def __len__(self) -> int:
        return len(self._by_hash)

    async def load(self) -> None:
        """Rebuild the map from the store (one query), then swap it in."""
        fingerprint = await self.store.fingerprint()
        keys = await self.store.usable_keys()
        self._by_hash = {digest: (_caller(key), _deadline(key)) for digest, key in keys}
        self._fingerprint = fingerprint

    async def invalidate(self) -> None:
        await self.load()

    async def _watch(self) -> None:
        while True:
            await asyncio.sleep(self.refresh_seconds)
            try:
                if await self.store.fingerprint() != self._fingerprint:
                    await self.load()
                    log.info("virtual keys reloaded: %d usable", len(self._by_hash))
            except Exception:  # the store may be briefly away; keep serving the last map
                log.exception("virtual keys: refresh failed; keeping the previous map")

    async def start(self) -> None:
        await self.load()
        self._task = asyncio.get_running_loop().create_task(self._watch())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
