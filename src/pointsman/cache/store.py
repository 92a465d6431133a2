"""Exact stores: answers by (scope, exact key), with TTL, size bounds and LRU eviction.

:class:`AnswerStore` is the contract; :class:`MemoryStore` keeps answers in this process and
:class:`~pointsman.cache.redis_store.RedisStore` in Redis for every replica. Both keep the same
counters per scope (:class:`ScopeStats`), so ``GET /admin/v1/cache/stats`` reads alike.

Eviction: an entry lives until its TTL runs out; when a new entry would take the store past
``max_entries`` or ``max_bytes``, the least recently *used* entries (a hit counts as a use)
go first. Concurrency: every operation is atomic with respect to the others (one event loop
here; one Lua script per operation in Redis).
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

import msgspec

from pointsman.cache.entry import CachedAnswer

__all__ = ["AnswerStore", "MemoryStore", "ScopeStats", "StoreStats", "in_scope"]

Clock = Callable[[], float]
COUNTERS = ("hits", "semantic_hits", "semantic_rejected", "misses", "stores", "saved_micros")


def in_scope(name: str, scope: str) -> bool:
    """Whether entries of scope ``name`` belong to ``scope`` (itself or a sub-scope)."""
    return name == scope or name.startswith(scope + "/")


class ScopeStats(msgspec.Struct, omit_defaults=False):
    """Counters of one scope since the store started (Redis: since its keys were created)."""

    hits: int = 0
    semantic_hits: int = 0
    semantic_rejected: int = 0  # semantic candidates the verifier refused (counted in misses)
    misses: int = 0
    stores: int = 0
    saved_micros: int = 0  # provider cost the hits did not spend, micro-USD

    def add(self, counter: str, amount: int = 1) -> None:
        setattr(self, counter, getattr(self, counter) + amount)


@dataclass(frozen=True, slots=True)
class StoreStats:
    backend: str
    entries: int
    bytes: int
    evictions: int
    scopes: dict[str, ScopeStats]


class AnswerStore(ABC):
    """Where exact entries live. Every method may raise ``StateUnavailableError`` (Redis)."""

    kind: str = "store"
    shared: bool = False

    @abstractmethod
    async def get(self, scope: str, key: str, counter: str | None = "hits") -> CachedAnswer | None:
        """The live answer under ``key`` in ``scope``, marked as just used; a found answer
        adds 1 to ``counter`` and its ``cost_micros`` to ``saved_micros``. With ``counter``
        None nothing is counted: the caller decides later (a semantic candidate is counted
        only once the verifier accepts it, with :meth:`count`)."""

    @abstractmethod
    async def put(self, scope: str, key: str, answer: CachedAnswer, ttl: float) -> None:
        """Store (or replace) an answer for ``ttl`` seconds, evicting LRU entries to fit."""

    @abstractmethod
    async def count(self, scope: str, counter: str, saved_micros: int = 0) -> None:
        """Add 1 to a scope's ``counter`` (``misses``, say) and ``saved_micros`` to what the
        scope's hits saved."""

    @abstractmethod
    async def purge(self, scope: str | None) -> int:
        """Delete every entry of ``scope`` and its sub-scopes (None: all). Returns how many."""

    @abstractmethod
    async def stats(self) -> StoreStats: ...

    async def start(self) -> None:  # noqa: B027 - optional hook
        """Connect (or check the connection)."""

    async def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections."""


class MemoryStore(AnswerStore):
    """Answers in this process: an ordered dict in LRU order, expiry checked on read."""

    kind = "memory"

    def __init__(self, max_entries: int, max_bytes: int, clock: Clock = time.monotonic) -> None:
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self._clock = clock
        self._entries: OrderedDict[tuple[str, str], tuple[CachedAnswer, float]] = OrderedDict()
        self._bytes = 0
        self._evictions = 0
        self._scopes: dict[str, ScopeStats] = {}

    def _stats(self, scope: str) -> ScopeStats:
        found = self._scopes.get(scope)
        if found is None:
            found = self._scopes[scope] = ScopeStats()
        return found

    def _drop(self, slot: tuple[str, str]) -> None:
        answer, _ = self._entries.pop(slot)
        self._bytes -= answer.size

    async def get(self, scope: str, key: str, counter: str | None = "hits") -> CachedAnswer | None:
        slot = (scope, key)
        found = self._entries.get(slot)
        if found is None:
            return None
        answer, expires = found
        if expires <= self._clock():
            self._drop(slot)
            return None
        self._entries.move_to_end(slot)
        if counter is not None:
            await self.count(scope, counter, answer.cost_micros)
        return answer

    async def put(self, scope: str, key: str, answer: CachedAnswer, ttl: float) -> None:
        slot = (scope, key)
        if slot in self._entries:
            self._drop(slot)
        self._entries[slot] = (answer, self._clock() + ttl)
        self._bytes += answer.size
        self._stats(scope).add("stores")
        while len(self._entries) > self.max_entries or (
            self._bytes > self.max_bytes and len(self._entries) > 1
        ):
            self._drop(next(iter(self._entries)))
            self._evictions += 1

    async def count(self, scope: str, counter: str, saved_micros: int = 0) -> None:
        stats = self._stats(scope)
        stats.add(counter)
        if saved_micros:
            stats.add("saved_micros", saved_micros)

    async def purge(self, scope: str | None) -> int:
        doomed = [slot for slot in self._entries if scope is None or in_scope(slot[0], scope)]
        for slot in doomed:
            self._drop(slot)
        return len(doomed)

    async def stats(self) -> StoreStats:
        scopes = {name: msgspec.structs.replace(s) for name, s in self._scopes.items()}
        return StoreStats("memory", len(self._entries), self._bytes, self._evictions, scopes)
