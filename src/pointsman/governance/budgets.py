"""Budgets: spend limits per org, team, key, user and feature that hold under concurrency.

How a request is charged:

1. Before dispatch, :meth:`BudgetLedger.reserve` reserves the request's *worst-case* cost on every
   budget level that applies, in one atomic backend operation: if any level would end above its
   cap (``spent + reserved + this > cap``), nothing is reserved anywhere and
   :class:`~pointsman.errors.BudgetExceededError` names that budget and when it resets.
2. After the response, :meth:`BudgetLedger.settle` releases the reservation and records the actual
   cost on the same levels. The actual cost is recorded in full even when it exceeds the
   reservation: spend is never lost.

The guarantee, precisely: *committed spend plus outstanding reservations never exceed a hard cap
at the moment a reservation is granted.* Spend itself stays within the cap as long as (a) the
estimate really is a worst case (input estimate plus the output cap times the output price) and
(b) each request settles within ``reservation_ttl``. A request that outlives its reservation (a
replica crashed, or a stream ran longer than the TTL) has its hold released by the next operation
on that level, so a dead replica never blocks a budget; if it does settle later, its spend is
still recorded, and that is the only way spend can pass a hard cap besides a low estimate. Set the
TTL above the longest request you allow (default 15 minutes).

Periods start in UTC: daily at 00:00, weekly on Monday 00:00 (ISO weeks), monthly on the 1st,
``total`` never. The period label is part of the ledger key, so a new period starts at zero; a
request's spend belongs to the period in which it was reserved. Hard budgets refuse at 100 % of
their limit; soft budgets alert and refuse only above ``soft_ceiling`` (default 120 %), or never
when it is None. Alerts fire at 70 %, 100 % and 120 %, each once per period across replicas.
The used share (spent plus reserved over the limit) is reported for routing to downgrade on.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Annotated

import msgspec
from msgspec import Meta

from pointsman.core.ids import new_id
from pointsman.errors import BudgetExceededError
from pointsman.governance.costs import MICROS_PER_USD
from pointsman.governance.periods import Period, PeriodWindow, period_window
from pointsman.state.base import BudgetState, LedgerSpec, LedgerState, Threshold

log = logging.getLogger("pointsman.budgets")

ALERT_PERCENTS = (70, 100, 120)
RETENTION = timedelta(days=7)  # a ledger outlives its period so late settles still land
DEFAULT_RESERVATION_TTL = 900.0
MAX_KEY_PART = 64
_LEVEL_CACHE_SIZE = 65_536
_NEVER = float("inf")


class Scope(StrEnum):
    ORG = "org"
    TEAM = "team"
    KEY = "key"
    USER = "user"
    FEATURE = "feature"


class Mode(StrEnum):
    HARD = "hard"
    SOFT = "soft"


class BudgetSpec(msgspec.Struct, frozen=True, forbid_unknown_fields=True, omit_defaults=True):
    """One budget, as written in config or stored.

    ``subject`` is the id of the org, team, key, user or feature; ``"*"`` gives each one its own
    budget of this size (an exact subject overrides ``"*"``). ``org`` restricts the budget to one
    org (users and features are named per org).
    """

    scope: Scope
    subject: str
    limit_usd: Annotated[float, Meta(gt=0)]
    period: Period = Period.MONTHLY
    mode: Mode = Mode.HARD
    soft_ceiling: Annotated[float, Meta(ge=1.0)] | None = 1.2
    org: str | None = None

    @property
    def limit(self) -> int:
        """The limit in micro-USD."""
        return round(self.limit_usd * MICROS_PER_USD)

    @property
    def cap(self) -> int | None:
        """Where reservations are refused, in micro-USD; None when never."""
        if self.mode is Mode.HARD:
            return self.limit
        return None if self.soft_ceiling is None else round(self.limit * self.soft_ceiling)


@dataclass(frozen=True, slots=True)
class Subjects:
    """Who a request is charged to; None where a scope does not apply."""

    org: str | None = None
    team: str | None = None
    key: str | None = None
    user: str | None = None
    feature: str | None = None

    def of(self, scope: Scope) -> str | None:
        value: str | None = getattr(self, scope.value)
        return value


class BudgetBook:
    """The budgets in force, indexed for lookup per request. Replace them with :meth:`replace`."""

    def __init__(self, specs: Iterable[BudgetSpec] = ()) -> None:
        self._index: dict[tuple[Scope, str], tuple[BudgetSpec, ...]] = {}
        self.version = 0  # bumped by every replace, so cached lookups know they are stale
        self.replace(specs)

    def replace(self, specs: Iterable[BudgetSpec]) -> None:
        """Swap in a new set of budgets. Raises ValueError on two budgets for the same thing."""
        index: dict[tuple[Scope, str], list[BudgetSpec]] = {}
        seen: set[tuple[Scope, str, Period, str | None]] = set()
        for spec in specs:
            identity = (spec.scope, spec.subject, spec.period, spec.org)
            if identity in seen:
                org = f" in org '{spec.org}'" if spec.org else ""
                raise ValueError(
                    f"two {spec.period} budgets for {spec.scope} '{spec.subject}'{org}; keep one"
                )
            seen.add(identity)
            index.setdefault((spec.scope, spec.subject), []).append(spec)
        self._index = {key: tuple(value) for key, value in index.items()}
        self.version += 1

    def specs(self) -> list[BudgetSpec]:
        """Every budget in force."""
        return [spec for specs in self._index.values() for spec in specs]

    def applicable(self, subjects: Subjects) -> list[tuple[BudgetSpec, str]]:
        """Each budget that applies, with the subject it is charged to. One per scope and period:
        an exact subject beats ``"*"``, and a budget for this org beats one for any org."""
        chosen: dict[tuple[Scope, Period], tuple[int, BudgetSpec, str]] = {}
        for scope in Scope:
            subject = subjects.of(scope)
            if subject is None:
                continue
            for wildcard, name in ((False, subject), (True, "*")):
                for spec in self._index.get((scope, name), ()):
                    if spec.org is not None and spec.org != subjects.org:
                        continue
                    rank = 2 * wildcard + (spec.org is None)
                    best = chosen.get((scope, spec.period))
                    if best is None or rank < best[0]:
                        chosen[(scope, spec.period)] = (rank, spec, subject)
        return [(spec, subject) for _, spec, subject in chosen.values()]


@dataclass(frozen=True, slots=True)
class Level:
    """One budget applied to one subject in one period."""

    spec: BudgetSpec
    subject: str
    window: PeriodWindow
    ledger: LedgerSpec

    @property
    def name(self) -> str:
        subject = self.subject if len(self.subject) <= MAX_KEY_PART else self.subject[:60] + "..."
        return f"{self.spec.scope} '{subject}' {self.spec.period} budget"

    def share(self, state: LedgerState) -> float:
        """Used share of the limit: (spent + reserved) / limit."""
        return (state.spent + state.reserved) / self.spec.limit


@dataclass(frozen=True, slots=True)
class BudgetAlert:
    """A threshold reached for the first time this period."""

    budget: str
    percent: int
    spent: int
    limit: int
    period: str


@dataclass(slots=True)
class Reservation:
    """A granted reservation. ``share`` is the highest used share among its levels."""

    id: str
    amount: int
    levels: tuple[Level, ...]
    states: tuple[LedgerState, ...]
    settled: bool = False

    @property
    def share(self) -> float:
        return max(
            (lv.share(st) for lv, st in zip(self.levels, self.states, strict=True)), default=0.0
        )


@dataclass(frozen=True, slots=True)
class Settlement:
    states: tuple[LedgerState, ...]
    alerts: tuple[BudgetAlert, ...]
    lapsed: tuple[str, ...]  # budgets whose hold had expired before the settle


def usd(micros: int) -> str:
    """Micro-USD written exactly, with at least cents: ``0.025 USD``, ``1,234.50 USD``."""
    whole, fraction = divmod(abs(micros), MICROS_PER_USD)
    digits = f"{fraction:06d}".rstrip("0").ljust(2, "0")
    return f"{'-' if micros < 0 else ''}{whole:,}.{digits} USD"


def _key_part(text: str) -> str:
    """``text`` as a piece of a key: user and feature names come from clients, so long ones are
    replaced by their hash rather than stored as sent."""
    if len(text) <= MAX_KEY_PART:
        return text
    return "sha256-" + hashlib.sha256(text.encode()).hexdigest()[:32]


def ledger_spec(
    spec: BudgetSpec, subject: str, org: str | None, window: PeriodWindow
) -> LedgerSpec:
    """The backend ledger of ``spec`` for ``subject`` (of ``org``) in ``window``.

    The key names the scope, subject and period, not the budget: an exact budget and a ``"*"``
    one for the same subject and period share one ledger, and a budget changed mid-period keeps
    what was already spent. Every key carries the org's hash tag.
    """
    thresholds = tuple(Threshold(str(pct), -(-spec.limit * pct // 100)) for pct in ALERT_PERCENTS)
    return LedgerSpec(
        key=f"{{{_key_part(org or '_')}}}:budget:{spec.scope}:{_key_part(subject)}:{window.label}",
        cap=spec.cap,
        thresholds=thresholds,
        expire_at=None if window.end is None else (window.end + RETENTION).timestamp(),
    )


def _utcnow() -> datetime:
    return datetime.now(UTC)


class BudgetLedger:
    """Reserve and settle requests against the budgets of a :class:`BudgetBook`.

    Concurrency: all arithmetic happens inside the backend's atomic operations, so any number of
    coroutines, workers and replicas may call this at once.
    """

    def __init__(
        self,
        state: BudgetState,
        book: BudgetBook,
        *,
        reservation_ttl: float = DEFAULT_RESERVATION_TTL,
        clock: Callable[[], datetime] = _utcnow,
    ) -> None:
        self.state = state
        self.book = book
        self.reservation_ttl = reservation_ttl
        self._clock = clock
        # subjects -> (valid until, book version, levels): building levels costs more than
        # the memory backend's whole reservation, so each caller's are kept until a period ends.
        self._levels: dict[Subjects, tuple[float, int, tuple[Level, ...]]] = {}

    def levels(self, subjects: Subjects) -> tuple[Level, ...]:
        """The levels that apply now. Their ledger keys all carry the org's hash tag."""
        stamp = time.time() if self._clock is _utcnow else self._clock().timestamp()
        cached = self._levels.get(subjects)
        if cached is not None and stamp < cached[0] and cached[1] == self.book.version:
            return cached[2]
        levels = self._build_levels(subjects, self._clock())
        until = min((lv.window.end.timestamp() for lv in levels if lv.window.end), default=_NEVER)
        if len(self._levels) >= _LEVEL_CACHE_SIZE:
            self._levels.clear()
        self._levels[subjects] = (until, self.book.version, levels)
        return levels

    def _build_levels(self, subjects: Subjects, now: datetime) -> tuple[Level, ...]:
        levels = []
        for spec, subject in self.book.applicable(subjects):
            window = period_window(spec.period, now)
            ledger = ledger_spec(spec, subject, subjects.org, window)
            levels.append(Level(spec, subject, window, ledger))
        return tuple(levels)

    async def reserve(self, subjects: Subjects, amount: int) -> Reservation:
        """Reserve ``amount`` micro-USD on every applicable level, or refuse.

        Raises :class:`~pointsman.errors.BudgetExceededError` naming the first level that would
        be exceeded; then nothing is reserved. With no applicable budget, returns an empty
        reservation (settling it is free). The reservation gets a fresh random id, never a
        client-supplied request id, which could repeat and merge two holds into one.
        """
        if amount < 0:
            raise ValueError(f"a reservation cannot be negative ({amount})")
        reservation_id = new_id(8)
        levels = self.levels(subjects)
        if not levels:
            return Reservation(reservation_id, amount, (), ())
        ledgers = [level.ledger for level in levels]
        outcome = await self.state.reserve(ledgers, reservation_id, amount, self.reservation_ttl)
        if outcome.blocked is not None:
            level = levels[outcome.blocked]
            raise _refusal(level, outcome.ledgers[outcome.blocked], amount, self._clock())
        return Reservation(reservation_id, amount, levels, outcome.ledgers)

    async def settle(self, reservation: Reservation, actual: int) -> Settlement:
        """Release ``reservation`` and record ``actual`` micro-USD on its levels.

        ``actual`` may exceed the reservation; it is recorded in full. Settling twice is a no-op
        the second time. Returns the alerts this settle triggered.
        """
        if reservation.settled or not reservation.levels:
            reservation.settled = True
            return Settlement(reservation.states, (), ())
        reservation.settled = True
        levels = reservation.levels
        ledgers = [level.ledger for level in levels]
        outcome = await self.state.settle(ledgers, reservation.id, max(0, actual))
        alerts = tuple(
            BudgetAlert(level.name, int(label), state.spent, level.spec.limit, level.window.label)
            for level, state, labels in zip(levels, outcome.ledgers, outcome.crossed, strict=True)
            for label in labels
        )
        lapsed = tuple(
            level.name for level, held in zip(levels, outcome.held, strict=True) if not held
        )
        if lapsed:
            log.warning(
                "reservation %s settled after its hold expired on %s; spend recorded anyway",
                reservation.id,
                ", ".join(lapsed),
            )
        return Settlement(outcome.ledgers, alerts, lapsed)

    async def release(self, reservation: Reservation) -> Settlement:
        """Settle at zero cost (the request never reached a provider)."""
        return await self.settle(reservation, 0)

    async def usage(self, subjects: Subjects) -> list[tuple[Level, LedgerState]]:
        """Every applicable level with its current state (for dashboards and routing)."""
        levels = self.levels(subjects)
        if not levels:
            return []
        states = await self.state.ledger_states([level.ledger for level in levels])
        return list(zip(levels, states, strict=True))

    async def highest_share(self, subjects: Subjects) -> float:
        """The highest used share among applicable budgets; routing downgrades above a threshold."""
        return max((level.share(state) for level, state in await self.usage(subjects)), default=0.0)


def _refusal(level: Level, state: LedgerState, amount: int, now: datetime) -> BudgetExceededError:
    spec = level.spec
    kind = (
        f"hard, {usd(spec.limit)}"
        if spec.mode is Mode.HARD
        else f"soft, {usd(spec.limit)}, may overrun to {usd(spec.cap or 0)}"
    )
    message = (
        f"Budget exceeded: the {level.name} ({kind}) has {usd(state.spent)} spent and "
        f"{usd(state.reserved)} reserved; this request may cost up to {usd(amount)}. "
    )
    headers = {}
    if level.window.end is None:
        message += "It does not reset: raise the limit to continue."
    else:
        message += f"It resets at {level.window.end:%Y-%m-%dT%H:%M:%SZ}."
        wait = max(1, int((level.window.end - now).total_seconds() + 0.999))
        headers["Retry-After"] = str(wait)
        headers["x-pointsman-budget-reset"] = f"{level.window.end:%Y-%m-%dT%H:%M:%SZ}"
    return BudgetExceededError(message, headers=headers)
