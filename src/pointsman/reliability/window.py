"""A pair of counters summed over a sliding time window, in constant time per update."""

from __future__ import annotations

_EMPTY = -(1 << 62)  # the slot number of a slot holding nothing (older than any window)


class SlidingCounts:
    """Two counters (``a`` and ``b``: successes and failures, or requests and retries) over the
    last ``window`` seconds.

    Time is cut into ``slots`` slots of ``window / slots`` seconds; a slot is cleared when time
    comes round to it again, so an update costs O(1) and a sum O(slots). The window is exact to
    one slot: a count leaves it between ``window - window/slots`` and ``window`` seconds later.
    Time is whatever monotonic clock the caller passes in (seconds, float). Not thread-safe;
    meant for one event loop.
    """

    __slots__ = ("_a", "_b", "_slots", "_ticks", "_width")

    def __init__(self, window: float, slots: int = 10) -> None:
        if window <= 0 or slots < 1:
            raise ValueError("window must be > 0 and slots >= 1")
        self._width = window / slots
        self._slots = slots
        self._a = [0] * slots
        self._b = [0] * slots
        self._ticks = [_EMPTY] * slots  # the absolute slot number each slot holds

    @property
    def window(self) -> float:
        return self._width * self._slots

    def add(self, now: float, a: int = 0, b: int = 0) -> None:
        """Count ``a`` and ``b`` at time ``now``."""
        tick = int(now / self._width)
        i = tick % self._slots
        if self._ticks[i] != tick:
            self._ticks[i] = tick
            self._a[i] = a
            self._b[i] = b
        else:
            self._a[i] += a
            self._b[i] += b

    def totals(self, now: float) -> tuple[int, int]:
        """The sums of ``a`` and ``b`` over the window ending at ``now``."""
        oldest = int(now / self._width) - self._slots
        a = b = 0
        for i, tick in enumerate(self._ticks):
            if tick > oldest:
                a += self._a[i]
                b += self._b[i]
        return a, b

    def clear(self) -> None:
        self._ticks = [_EMPTY] * self._slots
