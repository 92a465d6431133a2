"""Per-request draws of faults and latency.

:class:`FaultEngine` decides, for one request to one profile, whether it fails (and how) and
how long the first token takes. Precedence: the ``x-sim-fault`` header, then ``down``, then an
outage window, then a random draw against ``error_rates``, then a random draw against
``disconnect_rate``. Random draws come from one generator per profile name seeded with the
profile's ``seed``, so a server replays the same sequence for the same sequence of requests.
The ``x-sim-ttft-ms`` header replaces the drawn time to first token.

Not thread-safe: used from the event loop thread only.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass

from pointsman.simulator.profiles import Profile

__all__ = ["CLEAN", "FAULT_HEADER_VALUES", "Draw", "FaultEngine", "FaultHeaderError"]

FAULT_HEADER_VALUES = ("429", "500", "503", "disconnect", "timeout")


class FaultHeaderError(ValueError):
    """An ``x-sim-fault`` or ``x-sim-ttft-ms`` header value is not understood."""


@dataclass(frozen=True, slots=True)
class Draw:
    """The fate of one request.

    ``error``: HTTP status to fail with (None: succeed). ``disconnect``: cut the connection
    (mid-stream, or before any response). ``hang``: never answer. ``ttft_s``: seconds before the
    first token (or, for non-streaming requests, before generation time is added).
    """

    error: int | None = None
    disconnect: bool = False
    hang: bool = False
    ttft_s: float = 0.0


CLEAN = Draw()


class FaultEngine:
    """Draws :class:`Draw` values for requests; see the module docstring for the rules."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._started = clock()
        self._rngs: dict[tuple[str, int], random.Random] = {}

    def reset(self) -> None:
        """Restart the outage clock and reseed every random generator."""
        self._started = self._clock()
        self._rngs.clear()

    def uptime_s(self) -> float:
        """Seconds since construction or the last :meth:`reset`."""
        return self._clock() - self._started

    def draw(
        self, profile: Profile, fault: bytes | None = None, ttft_ms: bytes | None = None
    ) -> Draw:
        """The fate of one request to ``profile``, given the raw fault-injection header values.

        Raises :class:`FaultHeaderError` for a header value it does not understand.
        """
        if fault is None and ttft_ms is None and profile.is_instant:
            return CLEAN
        ttft_s = self._ttft_s(profile, ttft_ms)
        if fault is not None:
            return _forced(fault, profile, ttft_s)
        if profile.down or self._in_outage(profile):
            return Draw(error=503, ttft_s=ttft_s)
        rng = self._rng(profile)
        if profile.error_rates:
            roll = rng.random()
            for status, rate in sorted(profile.error_rates.items()):
                if roll < rate:
                    return Draw(error=status, ttft_s=ttft_s)
                roll -= rate
        if profile.disconnect_rate and rng.random() < profile.disconnect_rate:
            return Draw(disconnect=True, ttft_s=ttft_s)
        return Draw(ttft_s=ttft_s)

    def _rng(self, profile: Profile) -> random.Random:
        key = (profile.name, profile.seed)
        rng = self._rngs.get(key)
        if rng is None:
            rng = self._rngs[key] = random.Random(f"{profile.name}/{profile.seed}")
        return rng

    def _in_outage(self, profile: Profile) -> bool:
        if not profile.outages:
            return False
        now = self.uptime_s()
        return any(o.start_s <= now < o.end_s for o in profile.outages)

    def _ttft_s(self, profile: Profile, header: bytes | None) -> float:
        if header is not None:
            try:
                value = float(header)
            except ValueError:
                value = -1.0
            if not 0 <= value < math.inf:
                raise FaultHeaderError(f"x-sim-ttft-ms must be a number >= 0 (got {header!r})")
            return value / 1000
        if profile.ttft_ms == 0:
            return 0.0
        if profile.ttft_sigma == 0:
            return profile.ttft_ms / 1000
        factor = math.exp(self._rng(profile).gauss(0.0, profile.ttft_sigma))
        return profile.ttft_ms * factor / 1000


def _forced(fault: bytes, profile: Profile, ttft_s: float) -> Draw:
    value = fault.decode("latin-1").strip().lower()
    if value == "disconnect":
        return Draw(disconnect=True, ttft_s=ttft_s)
    if value == "timeout":
        return Draw(hang=True, ttft_s=ttft_s)
    if value.isdigit() and 400 <= int(value) <= 599:
        return Draw(error=int(value), ttft_s=ttft_s)
    raise FaultHeaderError(
        f"x-sim-fault must be one of {', '.join(FAULT_HEADER_VALUES)} "
        f"or another 4xx/5xx status (got {value!r})"
    )
