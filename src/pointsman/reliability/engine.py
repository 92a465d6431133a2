"""The reliability engine of one gateway process: health state that outlives config snapshots.

A :class:`Reliability` is created once per process (like governance) and kept across config
reloads: breakers, rate-limit cooldowns, latency averages, the retry budget and the counters
all carry over for deployments that still exist. Each config snapshot (``Gateway``) asks it for
its :class:`~pointsman.reliability.dispatch.Dispatcher` and, once started, hands it its live
providers to probe; only the snapshot that started the probes can stop them.

With a shared state backend (``shared``), breaker openings are exchanged between replicas
(:mod:`.sync`).
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Mapping
from typing import Any

from pointsman.config import Config
from pointsman.providers.base import Provider
from pointsman.reliability.board import DeploymentInfo, DeploymentState, HealthBoard
from pointsman.reliability.breaker import BreakerState, Transition
from pointsman.reliability.budget import RetryBudget
from pointsman.reliability.counters import ReliabilityCounters
from pointsman.reliability.dispatch import Dispatcher, log_event
from pointsman.reliability.health import HealthChecker, probe_targets
from pointsman.reliability.sync import BreakerSync
from pointsman.reliability.walk import AliasPlan, WalkDeps
from pointsman.routing.table import RouteTable
from pointsman.state.base import VersionState


def deployment_infos(config: Config) -> list[DeploymentInfo]:
    """Every configured deployment once (the first region given for it wins)."""
    infos: dict[str, DeploymentInfo] = {}
    for spec in config.aliases().values():
        for d in spec.deployments:
            name = f"{d.provider}/{d.model}"
            known = infos.get(name)
            if known is None or (known.region is None and d.region is not None):
                base_url = config.providers[d.provider].base_url
                infos[name] = DeploymentInfo(name, d.provider, d.model, d.region, base_url)
    return list(infos.values())


class Reliability:
    """Breakers, health checks, retry budget and counters for the life of the process.

    Args:
        config: the first config snapshot.
        shared: a shared version store (Redis) through which replicas exchange breaker
            openings; None keeps breakers local.
        clock: monotonic seconds (injectable for tests).
        rng: the random source for jitter and probe spreading.
    """

    def __init__(
        self,
        config: Config,
        shared: VersionState | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
    ) -> None:
        self.settings = config.reliability
        self.clock = clock
        self.rng = rng or random.Random()
        self.counters = ReliabilityCounters()
        self.board = HealthBoard(self.settings.breaker, self._transition, clock)
        self.budget = RetryBudget(self.settings.budget)
        self.checker = HealthChecker(self.board, clock, self.rng)
        self.sync = (
            BreakerSync(shared, self.board, self.settings.sync_interval, clock)
            if shared is not None
            else None
        )
        self._owner: object | None = None
        self.configure(config)

    def configure(self, config: Config) -> None:
        """Adopt a snapshot's settings and deployments (state of kept deployments survives)."""
        self.settings = settings = config.reliability
        self.board.configure(deployment_infos(config), settings.breaker)
        self.budget.reconfigure(settings.budget)
        if self.sync is not None:
            self.sync.interval = settings.sync_interval

    def dispatcher(self, config: Config, routes: RouteTable) -> Dispatcher:
        """The attempt loop for one config snapshot (also adopts the snapshot's settings)."""
        self.configure(config)
        settings = config.reliability
        plans = {alias: AliasPlan.from_config(spec) for alias, spec in config.aliases().items()}
        deps = WalkDeps(
            routes, plans, self.board, self.budget, self.counters, settings.retry, self.clock,
            self.rng,
        )  # fmt: skip
        timeouts = {name: spec.timeouts for name, spec in config.providers.items()}
        return Dispatcher(deps, timeouts, settings.hedge_after)

    def start(self, owner: object, config: Config, providers: Mapping[str, Provider]) -> None:
        """Probe ``owner``'s (started) providers from now on; must run in the event loop."""
        self._owner = owner
        default = config.reliability.health_check
        deployments: dict[str, list[tuple[str, str]]] = {name: [] for name in providers}
        for info in deployment_infos(config):
            deployments[info.provider].append((info.name, info.model))
        self.checker.track(
            probe_targets(
                (provider, config.providers[name].health_check or default, deployments[name])
                for name, provider in providers.items()
            )
        )
        if self.sync is not None:
            self.sync.start()

    async def stop(self, owner: object) -> None:
        """Stop probing, if ``owner`` is the snapshot that started it."""
        if owner is not self._owner:
            return
        self._owner = None
        await self.checker.stop()
        if self.sync is not None:
            await self.sync.stop()

    def _transition(self, state: DeploymentState, transition: Transition) -> None:
        self.counters.breaker_transitions[f"{transition.previous}->{transition.state}"] += 1
        log_event(
            event="breaker",
            deployment=state.name,
            previous=transition.previous.value,
            state=transition.state.value,
            reason=transition.reason,
            cooldown_s=transition.cooldown,
            strikes=state.breaker.strikes,
        )
        if transition.state is BreakerState.OPEN and not transition.remote and self.sync:
            self.sync.publish(state)

    def snapshot(self) -> dict[str, Any]:
        """What ``GET /health/deployments`` shows."""
        return {
            "deployments": self.board.snapshot(),
            "retry_budget": self.budget.snapshot(self.clock()),
            "counters": self.counters.snapshot(),
            "health_checks": {"running": self.checker.running, "probes": self.checker.probes},
            "breaker_sync": "shared" if self.sync is not None else "local",
        }
