"""The exact store in Redis, shared by every replica: one Lua script per operation.

Layout (``P`` is ``cache.prefix``; a *member* is ``<scope>|<exact key>``)::

    P e:<member>   hash    v = the encoded answer, c = its cost in micro-USD; PEXPIRE = TTL
    P lru          zset    member -> its last use (a counter: strict LRU order)
    P sz           hash    member -> size in bytes
    P tot          hash    bytes (sum of sizes), evictions, uses (the use counter)
    P st:<scope>   hash    hits, semantic_hits, semantic_rejected, misses, stores, saved_micros

Reads and writes go through the same automatic pipelining as the governance state
(:class:`~pointsman.state.pipelining.ScriptPipeline`): the lookups of one event-loop turn share
a round trip. An entry that expired is dropped from the index by the next read of it, or by
eviction, whichever comes first; until then it counts towards ``max_bytes`` (so the bound
errs on the small side).
"""

from __future__ import annotations

from importlib import resources
from typing import Any

import redis.asyncio as aioredis
from redis.asyncio.client import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.commands.core import AsyncScript

from pointsman.cache.entry import CachedAnswer, decode_answer, encode_answer
from pointsman.cache.store import COUNTERS, AnswerStore, ScopeStats, StoreStats
from pointsman.state.base import StateUnavailableError
from pointsman.state.pipelining import ScriptPipeline
from pointsman.state.redis import redacted

__all__ = ["RedisStore", "connect"]

_UNREACHABLE = (ConnectionError, TimeoutError, OSError, aioredis.RedisError)
PURGE_BATCH = 500


def _script(client: Redis, name: str) -> AsyncScript:
    folder = resources.files(__package__ or "pointsman.cache") / "lua"
    return client.register_script((folder / f"{name}.lua").read_text(encoding="utf-8"))


def connect(url: str, max_connections: int = 32) -> Redis:
    """A client on a blocking pool for ``url``, with the state backend's conventions: short
    timeouts, no automatic retries (a write whose reply was lost may have run)."""
    pool = aioredis.BlockingConnectionPool.from_url(
        url,
        max_connections=max_connections,
        timeout=2.0,
        socket_connect_timeout=2.0,
        socket_timeout=2.0,
        health_check_interval=30,
    )
    client = aioredis.Redis(connection_pool=pool, retry=Retry(NoBackoff(), 0))
    client.auto_close_connection_pool = True
    return client


class RedisStore(AnswerStore):
    """Exact entries in Redis under ``prefix`` (see the module docstring for the layout)."""

    kind = "redis"
    shared = True

    def __init__(
        self, client: Redis, *, prefix: str, max_entries: int, max_bytes: int, label: str = ""
    ) -> None:
        if "{" in prefix or "}" in prefix:
            raise ValueError("the cache prefix must not contain '{' or '}'")
        self.client = client
        self.prefix = prefix
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self.label = label or "redis"
        self._get = _script(client, "cache_get")
        self._put = _script(client, "cache_put")
        self._purge = _script(client, "cache_purge")
        self._pipeline = ScriptPipeline(client)
        self._lru, self._sizes, self._totals = prefix + "lru", prefix + "sz", prefix + "tot"

    @classmethod
    def from_url(cls, url: str, *, prefix: str, max_entries: int, max_bytes: int) -> RedisStore:
        return cls(
            connect(url),
            prefix=prefix,
            max_entries=max_entries,
            max_bytes=max_bytes,
            label=redacted(url),
        )

    def _keys(self, scope: str, key: str) -> tuple[str, list[str]]:
        member = f"{scope}|{key}"
        entry = f"{self.prefix}e:{member}"
        return member, [entry, self._lru, self._sizes, self._totals, f"{self.prefix}st:{scope}"]

    async def _call(self, script: AsyncScript, keys: list[str], args: list[Any]) -> Any:
        try:
            return await self._pipeline.run(script, keys, args)
        except _UNREACHABLE as error:
            raise StateUnavailableError(f"cache redis at {self.label}: {error}") from error

    async def start(self) -> None:
        try:
            await self.client.ping()
        except _UNREACHABLE as error:
            raise StateUnavailableError(f"cache redis at {self.label}: {error}") from error

    async def close(self) -> None:
        await self.client.aclose()

    async def get(self, scope: str, key: str, counter: str | None = "hits") -> CachedAnswer | None:
        member, keys = self._keys(scope, key)
        found = await self._call(self._get, keys, [member, counter or ""])
        return decode_answer(found) if found else None

    async def put(self, scope: str, key: str, answer: CachedAnswer, ttl: float) -> None:
        member, keys = self._keys(scope, key)
        args = [
            member,
            encode_answer(answer),
            answer.cost_micros,
            max(1, round(ttl * 1000)),
            answer.size,
            self.max_entries,
            self.max_bytes,
            self.prefix + "e:",
        ]
        await self._call(self._put, keys, args)

    async def count(self, scope: str, counter: str, saved_micros: int = 0) -> None:
        stats = f"{self.prefix}st:{scope}"
        try:
            if saved_micros:
                async with self.client.pipeline(transaction=False) as pipe:
                    pipe.hincrby(stats, counter, 1)
                    pipe.hincrby(stats, "saved_micros", saved_micros)
                    await pipe.execute()
            else:
                await self.client.hincrby(stats, counter, 1)
        except _UNREACHABLE as error:
            raise StateUnavailableError(f"cache redis at {self.label}: {error}") from error

    async def purge(self, scope: str | None) -> int:
        patterns = ["*"] if scope is None else [_escape(scope) + "|*", _escape(scope) + "/*"]
        deleted = 0
        keys = [self._lru, self._sizes, self._totals]
        try:
            for match in patterns:
                batch: list[str] = []
                async for member, _ in self.client.zscan_iter(self._lru, match=match, count=1000):
                    batch.append(member.decode() if isinstance(member, bytes) else member)
                    if len(batch) >= PURGE_BATCH:
                        deleted += await self._purge(keys, [self.prefix + "e:", *batch])
                        batch = []
                if batch:
                    deleted += await self._purge(keys, [self.prefix + "e:", *batch])
        except _UNREACHABLE as error:
            raise StateUnavailableError(f"cache redis at {self.label}: {error}") from error
        return int(deleted)

    async def stats(self) -> StoreStats:
        try:
            entries = await self.client.zcard(self._lru)
            totals = await self.client.hgetall(self._totals)
            scopes: dict[str, ScopeStats] = {}
            async for name in self.client.scan_iter(match=self.prefix + "st:*", count=1000):
                raw = name.decode() if isinstance(name, bytes) else name
                values = await self.client.hgetall(raw)
                counts = {_text(k): int(v) for k, v in values.items()}
                scopes[raw[len(self.prefix) + 3 :]] = ScopeStats(
                    **{c: counts.get(c, 0) for c in COUNTERS}
                )
        except _UNREACHABLE as error:
            raise StateUnavailableError(f"cache redis at {self.label}: {error}") from error
        return StoreStats(
            "redis",
            int(entries),
            int(totals.get(b"bytes", 0)),
            int(totals.get(b"evictions", 0)),
            scopes,
        )


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _escape(text: str) -> str:
    """``text`` as a literal in a Redis glob pattern."""
    return "".join("\\" + c if c in "*?[]\\" else c for c in text)
