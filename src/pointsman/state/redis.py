"""State shared by every replica, in Redis, one atomic Lua script per operation.

Scripts live in ``lua/`` beside this module (a shared prelude is prepended to each) and are
registered with redis-py's ``register_script``; they run by EVALSHA, the calls of one event-loop
turn pipelined together (:mod:`pointsman.state.pipelining`), and are reloaded if the server
forgot them.
Each script touches only the keys it is given, so a reservation over three budget levels reads
and writes exactly those levels' keys. Keys built by the governance layer carry a hash tag
(``{org}`` for budget ledgers, one tag for rate-limit keys), so the multi-key scripts also run on
Redis Cluster; a single Redis (with or without Sentinel) is the primary target.

Time: by default the scripts read the Redis server clock (``TIME``), so replicas whose own clocks
drift still agree on every window and lifetime. Pass ``clock`` to use a local clock instead
(tests drive it by hand).

Layout of the keys (``P`` is the prefix, ``K`` the key given by the caller)::

    P K           hash    budget ledger: spent, reserved, r:<reservation> amount, a:<alert> flag
    P K:holds     zset    budget ledger: reservation id -> expiry time
    P K           zset    window log: "<entry>|<weight>" -> time admitted
    P K:sum       string  window log: the sum of weights in the window
    P K           hash    token bucket: t = tokens at the last update, s = its time in µs
    P K           zset    concurrency slots: entry id -> lease expiry
    P c:K / P v:K string  counters / versions
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from importlib import resources
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import redis.asyncio as aioredis
from redis.asyncio.client import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.commands.core import AsyncScript
from redis.exceptions import ClusterDownError, OutOfMemoryError, ReadOnlyError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from pointsman.state.base import (
    Admission,
    Bucket,
    Check,
    CheckState,
    LedgerSpec,
    LedgerState,
    ReserveOutcome,
    SettleOutcome,
    Slots,
    StateBackend,
    StateUnavailableError,
    Window,
)
from pointsman.state.pipelining import ScriptPipeline

Clock = Callable[[], float]
# Down, unreachable, full, failing over: the state cannot be used right now.
_UNREACHABLE = (
    RedisConnectionError,
    RedisTimeoutError,
    OSError,
    OutOfMemoryError,
    ReadOnlyError,
    ClusterDownError,
)


def _source(*names: str) -> str:
    folder = resources.files(__package__ or "pointsman.state") / "lua"
    return "\n".join((folder / f"{name}.lua").read_text(encoding="utf-8") for name in names)


def redacted(url: str) -> str:
    """``url`` without its password, for logs."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    user = f"{parts.username}:***@" if parts.username else ":***@"
    netloc = f"{user}{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


def _check_prefix(prefix: str) -> str:
    if "{" in prefix or "}" in prefix:
        raise ValueError("the key prefix must not contain '{' or '}' (hash tags come later)")
    return prefix


def _opt(value: float | None) -> str:
    return "" if value is None else str(math.ceil(value))


class RedisBackend(StateBackend):
    """State in Redis. Build with :meth:`from_url`; ``prefix`` namespaces every key."""

    kind = "redis"
    shared = True

    def __init__(
        self,
        client: Redis,
        *,
        prefix: str = "pointsman:",
        clock: Clock | None = None,
        label: str = "redis",
    ) -> None:
        self.client = client
        self.prefix = _check_prefix(prefix)
        self._clock = clock
        self._label = label
        self._closed = False
        register = client.register_script
        self._reserve = register(_source("prelude", "ledger", "budget_reserve"))
        self._settle = register(_source("prelude", "ledger", "budget_settle"))
        self._states = register(_source("prelude", "ledger", "budget_states"))
        self._seed = register(_source("budget_seed"))
        self._acquire = register(_source("prelude", "limits", "limits_acquire"))
        self._finish = register(_source("prelude", "limits", "limits_finish"))
        self._renew = register(_source("prelude", "limits_renew"))
        self._add = register(_source("counter_add"))
        self._pipeline = ScriptPipeline(client)

    @classmethod
    def from_url(
        cls,
        url: str,
        *,
        prefix: str = "pointsman:",
        clock: Clock | None = None,
        max_connections: int = 64,
        **options: Any,
    ) -> RedisBackend:
        """A backend on a new pool for ``url`` (``redis://``, ``rediss://``, ``unix://``).

        The pool holds at most ``max_connections`` and makes a burst of callers *wait* for a free
        connection (up to ``options["timeout"]``, default 2 s) instead of failing; each script is
        one short round trip, so a few dozen connections serve thousands of requests a second.
        Other ``options`` go to the connection pool (e.g. ``socket_timeout``).
        """
        _check_prefix(prefix)
        options.setdefault("timeout", 2.0)
        options.setdefault("socket_connect_timeout", 2.0)
        options.setdefault("socket_timeout", 2.0)
        options.setdefault("health_check_interval", 30)
        pool = aioredis.BlockingConnectionPool.from_url(
            url, max_connections=max_connections, **options
        )
        # No automatic retries: a script whose reply was lost may have run, and running it
        # again would charge twice. A failure surfaces as StateUnavailableError instead.
        client = aioredis.Redis(connection_pool=pool, retry=Retry(NoBackoff(), 0))
        client.auto_close_connection_pool = True
        return cls(client, prefix=prefix, clock=clock, label=redacted(url))

    def describe(self) -> str:
        return f"redis at {self._label} (shared by every replica; prefix {self.prefix!r})"

    async def ping(self) -> None:
        try:
            await self.client.ping()
        except _UNREACHABLE as error:
            raise StateUnavailableError(f"redis at {self._label} unreachable: {error}") from error

    async def close(self) -> None:
        if not self._closed:
            self._closed = True
            await self.client.aclose()

    def _now(self) -> str:
        return "" if self._clock is None else repr(self._clock())

    async def _run(self, script: AsyncScript, keys: list[str], args: list[Any]) -> Any:
        try:
            return await self._pipeline.run(script, keys, args)
        except _UNREACHABLE as error:
            raise StateUnavailableError(f"redis at {self._label} unreachable: {error}") from error

    # --- budgets ---

    def _ledger_keys(self, ledgers: Sequence[LedgerSpec]) -> list[str]:
        keys: list[str] = []
        for spec in ledgers:
            keys += (self.prefix + spec.key, self.prefix + spec.key + ":holds")
        return keys

    async def reserve(
        self, ledgers: Sequence[LedgerSpec], reservation_id: str, amount: int, ttl: float
    ) -> ReserveOutcome:
        args: list[Any] = [self._now(), reservation_id, str(amount), repr(float(ttl))]
        for spec in ledgers:
            args += ("" if spec.cap is None else str(spec.cap), _opt(spec.expire_at))
        reply = await self._run(self._reserve, self._ledger_keys(ledgers), args)
        states = tuple(
            LedgerState(int(reply[i]), int(reply[i + 1])) for i in range(2, len(reply), 2)
        )
        blocked = int(reply[1])
        return ReserveOutcome(bool(reply[0]), states, blocked - 1 if blocked else None)

    async def settle(
        self, ledgers: Sequence[LedgerSpec], reservation_id: str, actual: int
    ) -> SettleOutcome:
        args: list[Any] = [self._now(), reservation_id, str(actual)]
        for spec in ledgers:
            args += (_opt(spec.expire_at), str(len(spec.thresholds)))
            for threshold in spec.thresholds:
                args += (threshold.label, str(threshold.amount))
        reply = await self._run(self._settle, self._ledger_keys(ledgers), args)
        return SettleOutcome(
            ledgers=tuple(LedgerState(int(r[0]), int(r[1])) for r in reply),
            crossed=tuple(tuple(label.decode() for label in r[3]) for r in reply),
            held=tuple(bool(r[2]) for r in reply),
        )

    async def ledger_states(self, ledgers: Sequence[LedgerSpec]) -> tuple[LedgerState, ...]:
        reply = await self._run(self._states, self._ledger_keys(ledgers), [self._now()])
        return tuple(LedgerState(int(reply[i]), int(reply[i + 1])) for i in range(0, len(reply), 2))

    async def seed_spent(self, ledger: LedgerSpec, spent: int) -> bool:
        keys = [self.prefix + ledger.key]
        return bool(await self._run(self._seed, keys, [str(spent), _opt(ledger.expire_at)]))

    # --- rate limits ---

    def _check_keys(self, checks: Sequence[Check]) -> list[str]:
        keys: list[str] = []
        for check in checks:
            keys.append(self.prefix + check.key)
            if isinstance(check, Window):
                keys.append(self.prefix + check.key + ":sum")
        return keys

    async def acquire(self, checks: Sequence[Check], entry_id: str) -> Admission:
        args: list[Any] = [self._now(), entry_id]
        for check in checks:
            if isinstance(check, Window):
                args += ("w", str(check.limit), repr(float(check.seconds)), str(check.cost))
            elif isinstance(check, Bucket):
                args += ("b", repr(float(check.capacity)), repr(float(check.rate)))
                args.append(repr(float(check.cost)))
            else:
                args += ("s", str(check.limit), repr(float(check.ttl)))
        reply = await self._run(self._acquire, self._check_keys(checks), args)
        states = tuple(
            CheckState(bool(s[0]), float(s[1]), float(s[2]), float(s[3]), float(s[4]))
            for s in reply[2:]
        )
        blocked = int(reply[1])
        return Admission(bool(reply[0]), states, blocked - 1 if blocked else None)

    async def finish(
        self, checks: Sequence[Check], entry_id: str, actuals: Sequence[float]
    ) -> None:
        args: list[Any] = [self._now(), entry_id]
        for check, actual in zip(checks, actuals, strict=True):
            if isinstance(check, Window):
                args += ("w", repr(float(check.seconds)), str(check.cost), str(int(actual)))
            elif isinstance(check, Bucket):
                args += ("b", repr(float(check.capacity)), repr(float(check.rate)))
                args += (repr(float(check.cost)), repr(float(actual)))
            else:
                args.append("s")
        await self._run(self._finish, self._check_keys(checks), args)

    async def renew(self, slots: Sequence[Slots], entry_id: str) -> None:
        keys = [self.prefix + check.key for check in slots]
        args = [self._now(), entry_id, *(repr(float(check.ttl)) for check in slots)]
        await self._run(self._renew, keys, args)

    # --- counters and versions ---

    async def add(self, key: str, amount: int, ttl: float | None = None) -> int:
        ms = "" if ttl is None else str(max(1, math.ceil(ttl * 1000)))
        return int(await self._run(self._add, [self.prefix + "c:" + key], [str(amount), ms]))

    async def get(self, key: str) -> int:
        try:
            value = await self.client.get(self.prefix + "c:" + key)
        except _UNREACHABLE as error:
            raise StateUnavailableError(f"redis at {self._label} unreachable: {error}") from error
        return int(value) if value is not None else 0

    async def bump(self, name: str) -> int:
        try:
            return int(await self.client.incr(self.prefix + "v:" + name))
        except _UNREACHABLE as error:
            raise StateUnavailableError(f"redis at {self._label} unreachable: {error}") from error

    async def version(self, name: str) -> int:
        try:
            value = await self.client.get(self.prefix + "v:" + name)
        except _UNREACHABLE as error:
            raise StateUnavailableError(f"redis at {self._label} unreachable: {error}") from error
        return int(value) if value is not None else 0
