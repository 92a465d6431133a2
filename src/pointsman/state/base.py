"""The state-backend seam: shared counters that budgets, limits and caches rely on.

A :class:`StateBackend` is four small capabilities, each an abstract class of its own so that a
caller can depend on only what it uses:

* :class:`BudgetState` — spend ledgers with all-or-nothing reservations across several levels.
* :class:`LimitState` — sliding-window logs, token buckets and concurrency slots, checked
  together all-or-nothing.
* :class:`CounterState` — plain integer counters with a time to live.
* :class:`VersionState` — version numbers that replicas poll to learn that "something changed"
  (e.g. virtual keys), the cheapest cross-replica invalidation signal.

Contract shared by every backend (the conformance suite in ``tests/integration/state`` holds each
backend to it):

* Every operation is atomic: no other operation on the same keys interleaves with it. The memory
  backend gets this from never awaiting mid-update; the Redis backend runs one Lua script per
  operation.
* Amounts of money and tokens are integers (micro-USD, tokens). Bucket levels may be fractional.
* Time is seconds as a float. A backend reads its own clock (injectable for tests); the Redis
  backend by default reads the Redis server's clock, so every replica sees one time.
* Keys are given without the backend's prefix. All keys of one multi-key operation should share a
  Redis Cluster hash tag (a ``{...}`` part); the governance layer builds keys that way.
* Connectivity failures raise :class:`StateUnavailableError`; nothing else is wrapped.

The checks and outcomes below are plain (not frozen) dataclasses: several are built for every
request, and a frozen dataclass costs about four times as much to build. Treat them as values.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass


class StateUnavailableError(Exception):
    """The shared state cannot be reached (e.g. Redis is down). Callers decide open or closed."""


# --- budgets ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Threshold:
    """An alert threshold: fires once per ledger when ``spent`` first reaches ``amount``."""

    label: str
    amount: int


@dataclass(frozen=True, slots=True)
class LedgerSpec:
    """One budget level as the backend sees it.

    Attributes:
        key: the ledger's key; a new budget period is a new key, so it starts at zero.
        cap: a reservation is refused when ``spent + reserved + amount > cap``; None never refuses.
        thresholds: alert thresholds checked by :meth:`BudgetState.settle`.
        expire_at: unix time after which the whole ledger may be dropped; None keeps it.
    """

    key: str
    cap: int | None
    thresholds: tuple[Threshold, ...] = ()
    expire_at: float | None = None


@dataclass(slots=True)
class LedgerState:
    """A ledger's committed spend and outstanding reservations, in the same unit (micro-USD)."""

    spent: int
    reserved: int


@dataclass(slots=True)
class ReserveOutcome:
    """Result of :meth:`BudgetState.reserve`.

    ``ledgers`` holds every ledger's state after the operation (including this reservation when
    granted). ``blocked`` is the index of the first ledger that refused, None when granted.
    """

    granted: bool
    ledgers: tuple[LedgerState, ...]
    blocked: int | None = None


@dataclass(slots=True)
class SettleOutcome:
    """Result of :meth:`BudgetState.settle`, one entry per ledger, in the order given.

    ``crossed`` holds, per ledger, the labels of thresholds reached for the first time ever on
    that ledger (so once per period, across replicas). ``held`` tells whether the reservation was
    still held there (False when it had expired or never existed; the spend is recorded anyway).
    """

    ledgers: tuple[LedgerState, ...]
    crossed: tuple[tuple[str, ...], ...]
    held: tuple[bool, ...]


class BudgetState(ABC):
    """Spend ledgers with reservations. See the module docstring for the shared contract."""

    @abstractmethod
    async def reserve(
        self, ledgers: Sequence[LedgerSpec], reservation_id: str, amount: int, ttl: float
    ) -> ReserveOutcome:
        """Reserve ``amount`` on every ledger, or on none.

        First releases every reservation on these ledgers whose time to live has run out (so a
        crashed replica never holds budget for longer than ``ttl``). Then, if any ledger with a
        cap would end above it, reserves nothing. ``reservation_id`` must be unique (generate
        it; never reuse a client-supplied id): reusing one merges two holds.
        """

    @abstractmethod
    async def settle(
        self, ledgers: Sequence[LedgerSpec], reservation_id: str, actual: int
    ) -> SettleOutcome:
        """Release the reservation on every ledger and add ``actual`` to ``spent``.

        ``actual`` may exceed the reservation (it is recorded in full: spend is never lost) or be
        zero (a release). Settling an expired or unknown reservation still records ``actual``.
        Thresholds of each ledger reached by the new ``spent`` for the first time are reported.
        """

    @abstractmethod
    async def ledger_states(self, ledgers: Sequence[LedgerSpec]) -> tuple[LedgerState, ...]:
        """The current state of each ledger, after releasing expired reservations."""

    @abstractmethod
    async def seed_spent(self, ledger: LedgerSpec, spent: int) -> bool:
        """Set ``spent`` on a ledger that has none yet (e.g. from the durable spend log).

        Returns True when it was set, False when the ledger already had a value.
        """


# --- rate limits --------------------------------------------------------------------------------


@dataclass(slots=True)
class Window:
    """A sliding-window log: the weights admitted in the last ``seconds`` never exceed ``limit``.

    Exact: every admitted entry is kept with its time until it leaves the window.
    ``cost`` is this request's weight (1 for a request count, tokens for a token limit).
    """

    key: str
    limit: int
    seconds: float
    cost: int


@dataclass(slots=True)
class Bucket:
    """A token bucket: holds at most ``capacity``, refills ``rate`` per second.

    ``cost`` may be fractional; a bucket may be driven into debt by :meth:`LimitState.finish`.
    """

    key: str
    capacity: float
    rate: float
    cost: float


@dataclass(frozen=True, slots=True)
class Slots:
    """Concurrency slots: at most ``limit`` leases at once; a lease lapses after ``ttl``."""

    key: str
    limit: int
    ttl: float


Check = Window | Bucket | Slots


@dataclass(slots=True)
class CheckState:
    """One check's view after :meth:`LimitState.acquire`.

    Attributes:
        admitted: whether this check alone would admit the request.
        limit: the check's limit (window limit, bucket capacity, slot count).
        remaining: what is left after this request when admitted, else what is left now.
        reset_after: seconds until the check is back to its initial state (empty window, full
            bucket, earliest lease expiry for slots).
        retry_after: seconds until this request would fit, 0 when admitted, -1 when it never can
            (cost above the limit).
    """

    admitted: bool
    limit: float
    remaining: float
    reset_after: float
    retry_after: float


@dataclass(slots=True)
class Admission:
    """Result of :meth:`LimitState.acquire`: one :class:`CheckState` per check, in order."""

    admitted: bool
    checks: tuple[CheckState, ...]
    blocked: int | None = None


class LimitState(ABC):
    """Rate-limit windows, buckets and slots. See the module docstring for the shared contract."""

    @abstractmethod
    async def acquire(self, checks: Sequence[Check], entry_id: str) -> Admission:
        """Admit one request against every check, or against none.

        When every check admits, records ``entry_id`` in each (a window entry, a bucket charge, a
        slot lease); otherwise records nothing. ``entry_id`` must be unique per request
        (generate it; a reused id would let two requests share one lease). The keys of one call
        must be distinct.
        """

    @abstractmethod
    async def finish(
        self, checks: Sequence[Check], entry_id: str, actuals: Sequence[float]
    ) -> None:
        """Close an admitted request with its actual costs (``actuals[i]`` for ``checks[i]``).

        ``checks`` are the ones given to :meth:`acquire` (a window entry is found by its id and
        admitted cost).

        A window entry still in its window is re-weighted to the actual cost; a bucket is charged
        or refunded the difference from the admitted cost; a slot is released (its actual is
        ignored). Unknown or expired entries are ignored.
        """

    @abstractmethod
    async def renew(self, slots: Sequence[Slots], entry_id: str) -> None:
        """Extend leases held by ``entry_id`` by each slot's ``ttl`` from now (long streams)."""


# --- counters and versions ------------------------------------------------------------------------


class CounterState(ABC):
    """Integer counters with a time to live."""

    @abstractmethod
    async def add(self, key: str, amount: int, ttl: float | None = None) -> int:
        """Add ``amount`` and return the new value. ``ttl`` is set when the counter is created."""

    @abstractmethod
    async def get(self, key: str) -> int:
        """The counter's value; 0 when absent or expired."""


class VersionState(ABC):
    """Monotonic version numbers for cross-replica invalidation ("keys changed")."""

    @abstractmethod
    async def bump(self, name: str) -> int:
        """Increase ``name``'s version and return it. Writers call this after a change."""

    @abstractmethod
    async def version(self, name: str) -> int:
        """``name``'s current version (0 when never bumped). Readers poll it at their pace."""


class StateBackend(BudgetState, LimitState, CounterState, VersionState):
    """Everything Pointsman keeps in shared state. ``shared`` says whether replicas share it."""

    kind: str = "abstract"
    shared: bool = False

    @abstractmethod
    def describe(self) -> str:
        """A one-line description for the start-up log (never includes secrets)."""

    @abstractmethod
    async def ping(self) -> None:
        """Check that the state is reachable. Raises :class:`StateUnavailableError`."""

    @abstractmethod
    async def close(self) -> None:
        """Release connections. Idempotent."""
