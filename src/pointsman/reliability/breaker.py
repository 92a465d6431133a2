"""The circuit breaker of one deployment: closed → open → half-open → closed, with hysteresis.

::

    CLOSED ──(N failures in a row, or error rate ≥ r over the window with ≥ m outcomes)──▶ OPEN
    OPEN ──(cooldown over; next allow() takes the single probe slot)──▶ HALF_OPEN
    HALF_OPEN ──probe succeeds──▶ CLOSED          HALF_OPEN ──probe fails──▶ OPEN

Hysteresis: a breaker that trips again within ``stable_after`` seconds of closing takes a
*strike* and its cooldown doubles (``cooldown * 2**strikes``, at most ``max_cooldown``); strikes
clear when it trips after staying closed that long. A flapping provider thus spends
exponentially longer out of rotation instead of oscillating at the cooldown's rhythm. A
persistent outage takes no strikes: its probes keep coming every ``cooldown`` so recovery is
seen promptly.

Only the attempt holding the probe slot (``allow() == PROBE``) moves a half-open breaker;
outcomes of calls that started earlier only add samples. :meth:`release` frees the slot when
the probe ended without a verdict (cancelled, or the client's own error). Everything is O(1)
except the error-rate check on a failure (ten slots); ``allow()`` on a closed breaker is one
attribute test. Time is the caller's monotonic clock. Single event loop, not thread-safe.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass

from pointsman.reliability.settings import BreakerSettings
from pointsman.reliability.window import SlidingCounts


class BreakerState(enum.StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


DENY, PASS, PROBE = 0, 1, 2  # what allow() grants


@dataclass(frozen=True, slots=True)
class Transition:
    """A state change: ``reason`` in words; ``cooldown`` when it opened."""

    previous: BreakerState
    state: BreakerState
    reason: str
    at: float
    cooldown: float | None = None
    remote: bool = False  # opened because another replica reported it open


class Breaker:
    """See the module docstring. ``on_transition`` is called on every state change."""

    __slots__ = (
        "_window",
        "closed_at",
        "consecutive",
        "on_transition",
        "open_until",
        "opened",
        "probing",
        "settings",
        "state",
        "strikes",
    )

    def __init__(
        self,
        settings: BreakerSettings,
        on_transition: Callable[[Transition], None] | None = None,
    ) -> None:
        self.settings = settings
        self.on_transition = on_transition
        self.state = BreakerState.CLOSED
        self.consecutive = 0
        self.open_until = 0.0
        self.strikes = 0
        self.closed_at = float("-inf")
        self.probing = False
        self.opened = 0  # times it has opened, ever
        self._window = SlidingCounts(settings.window)  # a: successes, b: failures

    def reconfigure(self, settings: BreakerSettings) -> None:
        """Adopt new settings (config reload); the state and counts carry over."""
        if settings.window != self.settings.window:
            self._window = SlidingCounts(settings.window)
        self.settings = settings

    def allow(self, now: float) -> int:
        """May a call go now? ``PASS``; ``PROBE`` (this call is the half-open probe); ``DENY``."""
        state = self.state
        if state is BreakerState.CLOSED:
            return PASS
        if state is BreakerState.OPEN:
            if now < self.open_until:
                return DENY
            self._move(BreakerState.HALF_OPEN, "cooldown over; probing", now)
        if self.probing:
            return DENY
        self.probing = True
        return PROBE

    def available(self, now: float) -> bool:
        """Whether :meth:`allow` would let a call through now (no side effect)."""
        state = self.state
        if state is BreakerState.CLOSED:
            return True
        if state is BreakerState.OPEN:
            return now >= self.open_until
        return not self.probing

    def record(self, ok: bool, now: float, probe: bool = False) -> None:
        """The outcome of one call (``probe``: it held the probe slot)."""
        if ok:
            self._window.add(now, a=1)
            self.consecutive = 0
            if probe:
                self.probing = False
                if self.state is BreakerState.HALF_OPEN:
                    self._close(now, "probe succeeded")
            return
        self._window.add(now, b=1)
        self.consecutive += 1
        if probe:
            self.probing = False
            if self.state is BreakerState.HALF_OPEN:
                self._open(now, "probe failed")
            return
        if self.state is not BreakerState.CLOSED:
            return
        threshold = self.settings.consecutive_failures
        if self.consecutive >= threshold:
            self._open(now, f"{self.consecutive} consecutive failures")
            return
        good, bad = self._window.totals(now)
        total = good + bad
        if total >= self.settings.min_requests and bad >= self.settings.error_rate * total:
            self._open(now, f"error rate {bad / total:.0%} over {total} calls")

    def release(self) -> None:
        """The probe ended without telling anything about the deployment: free the slot."""
        self.probing = False

    def probe_result(self, ok: bool, now: float) -> None:
        """A decisive active health check (e.g. a one-token chat call) of this deployment.

        Once the cooldown is over, it stands in for a live probe: success closes, failure
        re-opens. Before that, a success changes nothing (the cooldown is the hysteresis) and
        a failure only counts as a sample.
        """
        due = self.state is not BreakerState.CLOSED and now >= self.open_until
        if due and not self.probing:
            if ok:
                self._window.add(now, a=1)
                self.consecutive = 0
                self._close(now, "health probe succeeded")
            else:
                self._window.add(now, b=1)
                self._open(now, "health probe failed")
            return
        self.record(ok, now)

    def trip(self, now: float, reason: str, remote: bool = False) -> None:
        """Open now (e.g. another replica saw this deployment fail). No-op unless closed."""
        if self.state is BreakerState.CLOSED:
            self._open(now, reason, remote=remote)

    def retry_in(self, now: float) -> float:
        """Seconds until a call may go again (0 when it may go now)."""
        if self.state is BreakerState.OPEN:
            return max(0.0, self.open_until - now)
        return 0.0

    def error_rate(self, now: float) -> tuple[float, int]:
        """Failure share and number of outcomes over the window."""
        good, bad = self._window.totals(now)
        total = good + bad
        return (bad / total if total else 0.0), total

    def _open(self, now: float, reason: str, remote: bool = False) -> None:
        settings = self.settings
        if self.state is BreakerState.CLOSED:
            if now - self.closed_at < settings.stable_after:
                self.strikes += 1
            else:
                self.strikes = 0
        cooldown = min(settings.max_cooldown, settings.cooldown * 2 ** min(self.strikes, 30))
        self.open_until = now + cooldown
        self.probing = False
        self.opened += 1
        self._move(BreakerState.OPEN, reason, now, cooldown, remote)

    def _close(self, now: float, reason: str) -> None:
        self.closed_at = now
        self.consecutive = 0
        self._window.clear()  # failures from before the outage ended must not re-trip it
        self._move(BreakerState.CLOSED, reason, now)

    def _move(
        self,
        state: BreakerState,
        reason: str,
        now: float,
        cooldown: float | None = None,
        remote: bool = False,
    ) -> None:
        previous, self.state = self.state, state
        if self.on_transition is not None:
            self.on_transition(Transition(previous, state, reason, now, cooldown, remote))
