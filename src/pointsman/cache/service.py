"""The response cache of one gateway process: store, vector index, embedders, stats, purge.

A :class:`ResponseCache` lives as long as the process (like ``Governance`` and the reliability
engine): a config reload keeps its entries, connections and loaded model, and asks it for the
new snapshot's stage (:meth:`stage`), which reads the new snapshot's policy, TTLs and
thresholds. The backend (``cache.url``) and the local model are fixed at start: changing them
takes a restart.

Lifecycle: :meth:`start` inside the serving loop (connects, loads the local model when the
semantic cache uses it, replays the shared vectors), :meth:`stop` at shutdown.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING, Any

from pointsman.cache.settings import CacheSettings
from pointsman.cache.stage import CacheStage
from pointsman.cache.store import AnswerStore, MemoryStore
from pointsman.config import Config
from pointsman.core.pipeline import Stage
from pointsman.governance.accounting import Pricing
from pointsman.governance.catalog import Catalog
from pointsman.routing.table import RouteTable

if TYPE_CHECKING:
    from pointsman.cache.embedders import Embedder, Vectors
    from pointsman.cache.index import VectorIndex
    from pointsman.cache.shared_vectors import VectorLog

__all__ = ["ResponseCache"]

log = logging.getLogger("pointsman.cache")
_SEP = "\x1f"  # between scope, embedder and request shape in a partition name


def _store_for(settings: CacheSettings) -> AnswerStore:
    if settings.url == "memory":
        return MemoryStore(settings.max_entries, settings.max_bytes)
    from pointsman.cache.redis_store import RedisStore  # redis-py only when it is used

    return RedisStore.from_url(
        settings.url,
        prefix=settings.prefix,
        max_entries=settings.max_entries,
        max_bytes=settings.max_bytes,
    )


class ResponseCache:
    """Process-wide cache parts; see the module docstring."""

    def __init__(self, config: Config, store: AnswerStore | None = None) -> None:
        self.settings = config.cache
        self.store = store if store is not None else _store_for(self.settings)
        semantic = self.settings.semantic
        self._index: VectorIndex | None = None  # built on first semantic use (NumPy loads then)
        self.log: VectorLog | None = None
        if self.store.shared:
            from pointsman.cache.redis_store import RedisStore
            from pointsman.cache.shared_vectors import VectorLog

            assert isinstance(self.store, RedisStore)
            self.log = VectorLog(
                self.store.client, self.settings.prefix, semantic.max_entries, self.index
            )
        self._local: dict[str, Embedder] = {}
        self._task: asyncio.Task[None] | None = None

    def describe(self) -> str:
        kind = "redis (shared)" if self.store.shared else "in-process"
        semantic = self.settings.semantic
        extra = f", semantic via {semantic.embedder}" if semantic.enabled else ", exact only"
        return f"cache: {kind}{extra}" if self.settings.enabled else "cache: off"

    @property
    def index(self) -> VectorIndex:
        """The in-process vector index, created on first use."""
        if self._index is None:
            from pointsman.cache.index import VectorIndex

            self._index = VectorIndex(self.settings.semantic.max_entries)
        return self._index

    def _embedder(self, name: str, routes: RouteTable) -> Embedder:
        from pointsman.cache.embedders import GatewayEmbedder, HashingEmbedder

        if name in ("local", "hashing"):
            if name not in self._local:
                from pointsman.cache.minilm import MiniLMEmbedder

                self._local[name] = MiniLMEmbedder() if name == "local" else HashingEmbedder()
            return self._local[name]
        return GatewayEmbedder(name, routes)

    async def start(self) -> None:
        """Connect, load the local model if used, and replay shared vectors.

        Raises :class:`~pointsman.state.base.StateUnavailableError` when Redis is unreachable
        and RuntimeError when the local model's extra is missing: both are start-up errors.
        """
        if not self.settings.enabled:
            return
        await self.store.start()
        semantic = self.settings.semantic
        if semantic.enabled and semantic.embedder in ("local", "hashing"):
            await self._embedder(semantic.embedder, RouteTable({})).start()
        if self.log is not None and semantic.enabled:
            await self.log.sync()
            self._task = asyncio.get_running_loop().create_task(self.log.run(semantic.sync_seconds))

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        await self.store.close()

    def configure(self, config: Config) -> None:
        """Take a reloaded config's policy, TTLs and thresholds (backend: restart to change)."""
        self.settings = config.cache

    def stage(self, config: Config, routes: RouteTable) -> list[Stage]:
        """The snapshot's cache stage (empty when the cache is off)."""
        settings = config.cache
        if not settings.enabled or not self.settings.enabled:
            return []
        semantic = settings.semantic
        embedder = self._embedder(semantic.embedder, routes) if semantic.enabled else None
        pricing = Pricing(Catalog.load(overrides=config.catalog or None))
        return [CacheStage(settings, self, embedder, pricing)]

    def partition_name(self, scope: str, embedder: Embedder, partition: str) -> str:
        return f"{scope}{_SEP}{embedder.name}{_SEP}{partition}"

    async def remember(self, partition: str, vector: Vectors, key: str, ttl: float) -> None:
        """Index a stored answer's vector here and, with Redis, for every replica."""
        expires = time.time() + ttl
        self.index.add(partition, vector, key, expires)
        if self.log is not None:
            await self.log.append(partition, key, vector, expires)

    async def purge(self, scope: str | None) -> int:
        """Delete the entries of ``scope`` and its sub-scopes (None: everything)."""
        deleted = await self.store.purge(scope)
        if self._index is not None:
            if scope is None:
                self._index.purge(None)
            else:
                self._index.purge(scope + _SEP)
                self._index.purge(scope + "/")
        if self.log is not None:
            for prefix in (None,) if scope is None else (scope + _SEP, scope + "/"):
                await self.log.purge(prefix)
        return deleted

    async def stats(self) -> dict[str, Any]:
        """Counters per scope and in total, with what the hits saved in USD."""
        found = await self.store.stats()
        scopes = {
            name: {
                "hits": s.hits,
                "semantic_hits": s.semantic_hits,
                "semantic_rejected": s.semantic_rejected,
                "misses": s.misses,
                "stores": s.stores,
                "saved_usd": s.saved_micros / 1_000_000,
            }
            for name, s in sorted(found.scopes.items())
        }
        totals = {
            key: sum(s[key] for s in scopes.values())
            for key in (
                "hits",
                "semantic_hits",
                "semantic_rejected",
                "misses",
                "stores",
                "saved_usd",
            )
        }
        lookups = totals["hits"] + totals["semantic_hits"] + totals["misses"]
        return {
            "backend": found.backend,
            "entries": found.entries,
            "bytes": found.bytes,
            "evictions": found.evictions,
            "vectors": len(self._index) if self._index is not None else 0,
            "hit_rate": (totals["hits"] + totals["semantic_hits"]) / lookups if lookups else 0.0,
            "totals": totals,
            "scopes": scopes,
        }
