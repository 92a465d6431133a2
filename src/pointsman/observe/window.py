"""Sliding windows of fixed-size slots: what the dashboard and the SLO gauges aggregate into.

A :class:`Ring` holds ``size`` slots of ``width`` seconds each. Writing finds the slot of the
current time (clearing it first when it still holds an older period), so memory never grows
with traffic: thousands of requests per second cost the same as one. Reading sums the slots
that fall inside the window. One event loop owns a ring; nothing here locks.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Generic, Protocol, TypeVar

from pointsman.observe.histogram import FINE, Histogram


class Slot(Protocol):
    def clear(self) -> None: ...


S = TypeVar("S", bound=Slot)


class Tally:
    """What happened in one slot. Costs are integer micro-USD; times are seconds."""

    __slots__ = (
        "cache_hits",
        "cost",
        "eligible",
        "errors",
        "fallbacks",
        "latency",
        "met",
        "ok",
        "premium",
        "refusals",
        "requests",
        "saved",
        "tokens_in",
        "tokens_out",
        "tpot",
        "ttft",
    )

    def __init__(self) -> None:
        self.latency = Histogram(FINE)
        self.ttft = Histogram(FINE)
        self.tpot = Histogram(FINE)
        self.clear()

    def clear(self) -> None:
        self.requests = self.ok = self.errors = self.refusals = 0
        self.eligible = self.met = self.fallbacks = self.cache_hits = self.premium = 0
        self.cost = self.saved = self.tokens_in = self.tokens_out = 0
        self.latency.clear()
        self.ttft.clear()
        self.tpot.clear()

    def add(self, other: Tally) -> None:
        for name in _COUNTS:
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.latency.add(other.latency)
        self.ttft.add(other.ttft)
        self.tpot.add(other.tpot)


_COUNTS = tuple(n for n in Tally.__slots__ if n not in ("latency", "ttft", "tpot"))


class Spend:
    """Requests and cost in one slot (per team, per model)."""

    __slots__ = ("cost", "requests")

    def __init__(self) -> None:
        self.requests = 0
        self.cost = 0

    def clear(self) -> None:
        self.requests = 0
        self.cost = 0

    def add(self, other: Spend) -> None:
        self.requests += other.requests
        self.cost += other.cost


class Ring(Generic[S]):
    """``size`` slots of ``width`` seconds; the window is the last ``size * width`` seconds.

    Args:
        size: number of slots.
        width: seconds per slot.
        factory: builds an empty slot.
    """

    __slots__ = ("factory", "size", "slots", "stamps", "width")

    def __init__(self, size: int, width: float, factory: Callable[[], S]) -> None:
        self.size = size
        self.width = width
        self.factory = factory
        self.slots = [factory() for _ in range(size)]
        self.stamps = [-1] * size  # which period each slot holds

    @property
    def span(self) -> float:
        return self.size * self.width

    def at(self, now: float) -> S:
        """The slot for time ``now`` (seconds), cleared if it held an older period."""
        period = int(now // self.width)
        index = period % self.size
        if self.stamps[index] != period:
            self.slots[index].clear()
            self.stamps[index] = period
        return self.slots[index]

    def periods(self, now: float) -> Iterator[tuple[int, S | None]]:
        """Oldest first: each period of the window and its slot (None when nothing was
        written in it)."""
        last = int(now // self.width)
        for period in range(last - self.size + 1, last + 1):
            index = period % self.size
            yield period, (self.slots[index] if self.stamps[index] == period else None)

    def total(self, now: float, into: S) -> S:
        """Adds every slot of the window to ``into`` (which needs an ``add`` method)."""
        add = into.add  # type: ignore[attr-defined]
        for _, slot in self.periods(now):
            if slot is not None:
                add(slot)
        return into
