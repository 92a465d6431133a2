"""The mutable state of one simulator: served profiles, fault engine, counters, credentials."""

from __future__ import annotations

import itertools
from collections.abc import Mapping

from pointsman.simulator.faults import FaultEngine
from pointsman.simulator.profiles import Profile
from pointsman.simulator.stats import Stats

__all__ = ["SimState"]


class SimState:
    """Everything a handler may read or change. One per server; event-loop thread only.

    ``profiles`` maps each served model name to its profile; replace entries to change a
    model's behaviour (the change applies to the next request). :meth:`reset` restores the
    profiles given at construction, clears the counters and restarts the fault clock.
    """

    def __init__(self, profiles: Mapping[str, Profile], api_key: str | None = None) -> None:
        self._initial = dict(profiles)
        self.profiles: dict[str, Profile] = dict(profiles)
        self.api_key = api_key
        self.faults = FaultEngine()
        self.stats = Stats()
        self._ids = itertools.count(1)

    def next_id(self) -> int:
        """A number unique within this server, for response ids."""
        return next(self._ids)

    def reset(self) -> None:
        """Back to the state at construction (counters at zero, outage clock restarted)."""
        self.profiles.clear()
        self.profiles.update(self._initial)
        self.faults.reset()
        self.stats.clear()
