"""Sharing breaker openings between replicas, with no shared-state round-trip per request.

Each replica keeps its own breakers (checked in nanoseconds on the hot path). When one of them
opens through this replica's own evidence, :class:`BreakerSync` bumps a version number for that
deployment in the shared :class:`~pointsman.state.base.VersionState` (Redis when configured).
Every ``interval`` seconds it reads the versions of all deployments; a version that moved since
it last looked means another replica opened that breaker, so the local one opens too (base
cooldown, no strike, not re-published). Closing stays local: each replica probes for itself,
so one lucky probe elsewhere cannot put a still-broken deployment back into every replica.

Cost: one bump per opening, and one read per deployment per interval per replica. When the
shared state is unreachable, openings are simply not shared (logged once per outage).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from pointsman.reliability.board import DeploymentState, HealthBoard
from pointsman.state.base import StateUnavailableError, VersionState

log = logging.getLogger("pointsman.reliability")
KEY_PREFIX = "breaker-open:"


class BreakerSync:
    """Publishes local breaker openings and applies other replicas' (see the module docstring)."""

    def __init__(
        self,
        versions: VersionState,
        board: HealthBoard,
        interval: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.versions = versions
        self.board = board
        self.interval = interval
        self.clock = clock
        self.seen: dict[str, int] = {}
        self.applied = 0  # openings learnt from other replicas
        self._task: asyncio.Task[None] | None = None
        self._pending: set[asyncio.Task[None]] = set()
        self._failing = False
        self._stopping = False

    def publish(self, state: DeploymentState) -> None:
        """Announce that ``state``'s breaker opened here (fire and forget, in the event loop)."""
        task = asyncio.get_running_loop().create_task(self._bump(state.name))
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def _bump(self, name: str) -> None:
        try:
            self.seen[name] = await self.versions.bump(KEY_PREFIX + name)
        except StateUnavailableError as error:
            self._unavailable(error)

    async def poll(self) -> None:
        """Read every deployment's version once and open breakers other replicas opened."""
        for name, state in list(self.board.states.items()):
            try:
                version = await self.versions.version(KEY_PREFIX + name)
            except StateUnavailableError as error:
                self._unavailable(error)
                return
            previous = self.seen.get(name)
            self.seen[name] = version
            if previous is not None and version > previous:
                self.applied += 1
                state.breaker.trip(self.clock(), "opened by another replica", remote=True)
        self._failing = False

    def _unavailable(self, error: Exception) -> None:
        if not self._failing:
            log.warning("breaker openings not shared: shared state unreachable (%s)", error)
        self._failing = True

    def start(self) -> None:
        if self._task is None:
            self._stopping = False
            self._task = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        # The flag, not only the cancellation, ends the loop: a client library that swallows a
        # CancelledError mid-command must not keep the poll (and shutdown) going forever.
        while not self._stopping:
            try:
                await self.poll()
            except Exception:
                log.exception("breaker sync poll failed")
            await asyncio.sleep(self.interval)

    async def stop(self) -> None:
        """Stop polling and publishing; waits at most a second for the tasks to end."""
        self._stopping = True
        task, self._task = self._task, None
        tasks = [t for t in (task, *self._pending) if t is not None]
        for t in tasks:
            t.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=1.0)
