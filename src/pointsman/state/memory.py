"""In-process state for a single worker.

Atomicity comes from asyncio itself: no method awaits between reading and writing, so on one
event loop each operation runs to completion before any other starts. The state is *not* shared:
two workers (or replicas) on this backend each enforce every limit alone, which is why
:func:`pointsman.state.selection.check_workers` refuses to start several of them.

Forgotten state is dropped lazily: each key records when it may be dropped (end of a window,
bucket full again, ledger past its ``expire_at``) and a sweep runs at most every ``gc_interval``
seconds during normal operations, so memory stays bounded without a background task.

Reservations on one ledger expire in the order they were made. With one time to live per ledger
(how :class:`~pointsman.governance.budgets.BudgetLedger` uses it) that order is exact; with mixed
times to live a reservation may outlive its time until the older ones before it have expired,
which only ever holds budget longer, never releases it early.
"""

from __future__ import annotations

import time
from collections import OrderedDict, deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from pointsman.state import bucket
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
    Window,
)

Clock = Callable[[], float]


@dataclass(slots=True)
class _Ledger:
    spent: int = 0
    reserved: int = 0
    has_spent: bool = False  # mirrors Redis: "spent" exists once settled or seeded
    holds: OrderedDict[str, tuple[int, float]] = field(default_factory=OrderedDict)
    alerts: set[str] = field(default_factory=set)

    def sweep(self, now: float) -> None:
        """Release reservations whose time to live has run out (oldest first)."""
        holds = self.holds
        while holds:
            rid, (amount, expires) = next(iter(holds.items()))
            if expires > now:
                return
            del holds[rid]
            self.reserved -= amount

    def state(self) -> LedgerState:
        return LedgerState(self.spent, self.reserved)


@dataclass(slots=True)
class _Log:
    """A weighted sliding-window log: entries in time order, weights by id, and their sum."""

    entries: deque[tuple[float, str]] = field(default_factory=deque)
    weights: dict[str, int] = field(default_factory=dict)
    total: int = 0

    def prune(self, cutoff: float) -> None:
        entries, weights = self.entries, self.weights
        while entries and entries[0][0] <= cutoff:
            _, eid = entries.popleft()
            self.total -= weights.pop(eid, 0)

    def wait_for(self, need: int, seconds: float, now: float) -> float:
        """Seconds until the oldest entries holding at least ``need`` have left the window."""
        freed = 0
        for ts, eid in self.entries:
            freed += self.weights.get(eid, 0)
            if freed >= need:
                return ts + seconds - now
        return seconds


class MemoryBackend(StateBackend):
    """State in this process only. ``clock`` is injectable for tests (seconds as a float)."""

    kind = "memory"
    shared = False

    def __init__(self, clock: Clock = time.time, gc_interval: float = 60.0) -> None:
        self._clock = clock
        self._gc_interval = gc_interval
        self._next_gc = clock() + gc_interval
        self._ledgers: dict[str, _Ledger] = {}
        self._logs: dict[str, _Log] = {}
        self._buckets: dict[str, bucket.BucketState] = {}
        self._leases: dict[str, dict[str, float]] = {}
        self._counters: dict[str, tuple[int, float | None]] = {}
        self._versions: dict[str, int] = {}
        self._drop_after: dict[tuple[int, str], float] = {}

    def describe(self) -> str:
        return "memory (in-process: this worker only; limits and budgets are not shared)"

    async def ping(self) -> None:
        return None

    async def close(self) -> None:
        return None

    # --- budgets ---

    def _ledger(self, spec: LedgerSpec, now: float) -> _Ledger:
        ledger = self._ledgers.get(spec.key)
        if ledger is None:
            ledger = self._ledgers[spec.key] = _Ledger()
        if spec.expire_at is not None:
            self._drop_after[(0, spec.key)] = spec.expire_at
        ledger.sweep(now)
        return ledger

    async def reserve(
        self, ledgers: Sequence[LedgerSpec], reservation_id: str, amount: int, ttl: float
    ) -> ReserveOutcome:
        now = self._tick()
        books = [self._ledger(spec, now) for spec in ledgers]
        blocked = None
        for i, (spec, book) in enumerate(zip(ledgers, books, strict=True)):
            if spec.cap is not None and book.spent + book.reserved + amount > spec.cap:
                blocked = i
                break
        if blocked is None:
            for book in books:
                book.reserved += amount
                book.holds[reservation_id] = (amount, now + ttl)
        return ReserveOutcome(blocked is None, tuple(b.state() for b in books), blocked)

    async def settle(
        self, ledgers: Sequence[LedgerSpec], reservation_id: str, actual: int
    ) -> SettleOutcome:
        now = self._tick()
        states, crossed, held = [], [], []
        for spec in ledgers:
            book = self._ledger(spec, now)
            hold = book.holds.pop(reservation_id, None)
            if hold is not None:
                book.reserved -= hold[0]
            book.spent += actual
            book.has_spent = True
            fresh = []
            for threshold in spec.thresholds:
                if book.spent >= threshold.amount and threshold.label not in book.alerts:
                    book.alerts.add(threshold.label)
                    fresh.append(threshold.label)
            states.append(book.state())
            crossed.append(tuple(fresh))
            held.append(hold is not None)
        return SettleOutcome(tuple(states), tuple(crossed), tuple(held))

    async def ledger_states(self, ledgers: Sequence[LedgerSpec]) -> tuple[LedgerState, ...]:
        now = self._tick()
        return tuple(self._ledger(spec, now).state() for spec in ledgers)

    async def seed_spent(self, ledger: LedgerSpec, spent: int) -> bool:
        book = self._ledger(ledger, self._tick())
        if book.has_spent:
            return False
        book.spent, book.has_spent = spent, True
        return True

    # --- rate limits ---

    async def acquire(self, checks: Sequence[Check], entry_id: str) -> Admission:
        now = self._tick()
        states = [self._evaluate(check, now) for check in checks]
        blocked = next((i for i, s in enumerate(states) if not s.admitted), None)
        if blocked is None:
            for check in checks:
                self._commit(check, now, entry_id)
        return Admission(blocked is None, tuple(states), blocked)

    def _evaluate(self, check: Check, now: float) -> CheckState:
        if isinstance(check, Window):
            log = self._logs.get(check.key) or _Log()
            log.prune(now - check.seconds)
            used, limit = log.total, check.limit
            newest = log.entries[-1][0] + check.seconds - now if log.entries else 0.0
            if check.cost > limit:
                return CheckState(False, limit, max(0, limit - used), newest, -1.0)
            if used + check.cost <= limit:
                return CheckState(True, limit, limit - used - check.cost, check.seconds, 0.0)
            wait = log.wait_for(used + check.cost - limit, check.seconds, now)
            return CheckState(False, limit, max(0, limit - used), newest, wait)
        if isinstance(check, Bucket):
            step = self._take(check, now)
            return CheckState(
                step.admitted, check.capacity, step.remaining, step.reset_after, step.retry_after
            )
        leases = self._live_leases(check.key, now)
        first = min(leases.values()) - now if leases else 0.0
        if len(leases) < check.limit:
            return CheckState(True, check.limit, check.limit - len(leases) - 1, first, 0.0)
        return CheckState(False, check.limit, 0, first, first)

    def _commit(self, check: Check, now: float, entry_id: str) -> None:
        if isinstance(check, Window):
            log = self._logs.get(check.key)
            if log is None:
                log = self._logs[check.key] = _Log()
            log.entries.append((now, entry_id))
            log.weights[entry_id] = check.cost
            log.total += check.cost
            self._drop_after[(1, check.key)] = now + check.seconds
        elif isinstance(check, Bucket):
            step = self._take(check, now)
            if step.state is not None:
                self._store(check, step.state)
        else:
            leases = self._leases.setdefault(check.key, {})
            leases[entry_id] = now + check.ttl
            self._drop_after[(3, check.key)] = max(leases.values())

    def _take(self, check: Bucket, now: float) -> bucket.BucketStep:
        state = self._buckets.get(check.key)
        return bucket.take(state, bucket.micros(now), check.capacity, check.rate, check.cost)

    def _store(self, check: Bucket, state: bucket.BucketState) -> None:
        self._buckets[check.key] = state
        self._drop_after[(2, check.key)] = bucket.full_at(state, check.capacity, check.rate)

    def _live_leases(self, key: str, now: float) -> dict[str, float]:
        leases = self._leases.get(key)
        if not leases:
            return {}
        for lease in [lid for lid, expires in leases.items() if expires <= now]:
            del leases[lease]
        return leases

    async def finish(
        self, checks: Sequence[Check], entry_id: str, actuals: Sequence[float]
    ) -> None:
        now = self._tick()
        for check, actual in zip(checks, actuals, strict=True):
            if isinstance(check, Window):
                log = self._logs.get(check.key)
                if log is None:
                    continue
                log.prune(now - check.seconds)
                old = log.weights.get(entry_id)
                if old == check.cost:  # an entry is its id and admitted cost, as in Redis
                    log.weights[entry_id] = int(actual)
                    log.total += int(actual) - check.cost
            elif isinstance(check, Bucket):
                state = self._buckets.get(check.key)
                delta = actual - check.cost
                now_us = bucket.micros(now)
                self._store(check, bucket.adjust(state, now_us, check.capacity, check.rate, delta))
            else:
                leases = self._leases.get(check.key)
                if leases is not None:
                    leases.pop(entry_id, None)

    async def renew(self, slots: Sequence[Slots], entry_id: str) -> None:
        now = self._tick()
        for check in slots:
            leases = self._live_leases(check.key, now)
            if entry_id in leases:
                leases[entry_id] = now + check.ttl
                self._drop_after[(3, check.key)] = max(leases.values())

    # --- counters and versions ---

    async def add(self, key: str, amount: int, ttl: float | None = None) -> int:
        now = self._tick()
        value, expires = self._counters.get(key, (0, None))
        if expires is not None and expires <= now:
            value, expires = 0, None
        if expires is None and ttl is not None:
            expires = now + ttl
            self._drop_after[(4, key)] = expires
        value += amount
        self._counters[key] = (value, expires)
        return value

    async def get(self, key: str) -> int:
        value, expires = self._counters.get(key, (0, None))
        return 0 if expires is not None and expires <= self._clock() else value

    async def bump(self, name: str) -> int:
        self._versions[name] = version = self._versions.get(name, 0) + 1
        return version

    async def version(self, name: str) -> int:
        return self._versions.get(name, 0)

    # --- housekeeping ---

    def _tick(self) -> float:
        now = self._clock()
        if now >= self._next_gc:
            self._next_gc = now + self._gc_interval
            self._collect(now)
        return now

    def _collect(self, now: float) -> None:
        """Drop state whose time has passed (see the module docstring)."""
        families: tuple[dict[str, Any], ...] = (
            self._ledgers,
            self._logs,
            self._buckets,
            self._leases,
            self._counters,
        )
        for (family, key), when in list(self._drop_after.items()):
            if when <= now:
                del self._drop_after[(family, key)]
                families[family].pop(key, None)
