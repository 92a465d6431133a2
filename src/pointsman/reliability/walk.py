"""The order in which one request tries deployments, and when it stops trying.

A :class:`Walk` goes through the requested alias's candidates (routing's order), then each alias
of its ``fallbacks`` chain in turn (each with its own ``attempts_per_alias``). A deployment is
called at most once per request plus its same-deployment retries, even when several aliases list
it. Deployments whose breaker is open or that are waiting out a rate limit are passed over
without a call. A context-window or content-policy refusal *redirects* the walk to the alias
configured for it (then that alias's fallbacks), once per target.

Every call after the first needs the global :class:`RetryBudget`'s consent, except the first call
after a redirect (a deterministic reroute, not a retry). When the budget refuses, the walk stops.
The walk is per request and never shared; it does not await.
"""

from __future__ import annotations

import random
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from pointsman.config import AliasConfig
from pointsman.core.pipeline import Attempt, RequestContext
from pointsman.errors import PointsmanError
from pointsman.reliability.backoff import retry_wait
from pointsman.reliability.board import DeploymentState, HealthBoard
from pointsman.reliability.budget import RetryBudget
from pointsman.reliability.calls import supports
from pointsman.reliability.classify import Verdict, cause, verdict
from pointsman.reliability.counters import ReliabilityCounters
from pointsman.reliability.settings import RetrySettings
from pointsman.reliability.trail import UNSUPPORTED, Trail
from pointsman.routing.table import Deployment, RouteTable

RETRY_AFTER_MARGIN = 0.005  # wake just after the upstream's reset time, never just before


@dataclass(slots=True, frozen=True)
class AliasPlan:
    """An alias's reliability settings, from its config entry."""

    fallbacks: tuple[str, ...] = ()
    on_context_window: str | None = None
    on_content_policy: str | None = None
    hedge_after: float | None = None

    @classmethod
    def from_config(cls, spec: AliasConfig) -> AliasPlan:
        return cls(
            tuple(spec.fallbacks),
            spec.on_context_window_exceeded,
            spec.on_content_policy,
            spec.hedge_after,
        )


NO_PLAN = AliasPlan()


@dataclass(slots=True)
class Launch:
    """A call the walk decided to make. ``retry`` is 0 for a deployment's first call."""

    alias: str
    deployment: Deployment
    state: DeploymentState
    probe: bool
    number: int
    retry: int
    reason: str  # first, retry, fallback, context_window, content_policy


@dataclass(slots=True)
class WalkDeps:
    """What every walk of one config snapshot shares."""

    routes: RouteTable
    plans: Mapping[str, AliasPlan]
    board: HealthBoard
    budget: RetryBudget
    counters: ReliabilityCounters
    retry: RetrySettings
    clock: Callable[[], float]
    rng: random.Random


class Walk:
    """One request's path through its candidates; see the module docstring."""

    def __init__(self, ctx: RequestContext, deps: WalkDeps, *, retry_same: bool = True) -> None:
        self.ctx = ctx
        self.deps = deps
        self.trail = Trail(ctx.alias)
        self.calls = 0
        self.stopped = False  # the retry budget said no
        self.last: tuple[str, str] | None = None  # (deployment, cause) of the latest failure
        self._retry_same = retry_same
        plan = deps.plans.get(ctx.alias, NO_PLAN)
        self._chain: deque[tuple[str, str]] = deque((a, "fallback") for a in plan.fallbacks)
        self._alias = ctx.alias
        self._reason = "first"
        self._group: list[Deployment] = ctx.candidates
        self._index = 0
        self._left = deps.retry.attempts_per_alias
        self._called: set[str] = set()
        self._pending: Launch | None = None
        self._free = False
        self._redirected: set[str] = set()

    def next(self) -> Launch | None:
        """The next call to make, or None when nothing is left (or the budget said stop)."""
        pending, self._pending = self._pending, None
        if pending is not None and self._left > 0 and not self.stopped:
            launch = self._launch(
                pending.alias, pending.deployment, pending.state, pending.retry + 1
            )
            if launch is not None:
                return launch
        while not self.stopped:
            if self._index >= len(self._group) or self._left <= 0:
                if not self._advance():
                    return None
                continue
            deployment = self._group[self._index]
            self._index += 1
            name = deployment.name
            if name in self._called:
                continue
            if not supports(deployment.provider, self.ctx):
                self._skip(self._alias, deployment, UNSUPPORTED, None)
                continue
            state = self.deps.board.state(name)
            launch = self._launch(self._alias, deployment, state, 0)
            if launch is not None:
                return launch
        return None

    def _launch(
        self, alias: str, deployment: Deployment, state: DeploymentState, retry: int
    ) -> Launch | None:
        deps = self.deps
        now = deps.clock()
        blocked, probe = state.gate(now)
        if blocked is not None:
            self._skip(alias, deployment, blocked, state.retry_in(now))
            return None
        if self.calls and not self._free and not deps.budget.try_spend(now):
            state.released(probe)
            self.stopped = self.trail.budget_exhausted = True
            deps.counters.budget_exhausted += 1
            return None
        self._free = False
        self._left -= 1
        self.calls += 1
        self._called.add(deployment.name)
        reason = "retry" if retry else self._reason if self.calls > 1 else "first"
        if not retry:
            self._reason = "fallback"
        return Launch(alias, deployment, state, probe, self.calls, retry, reason)

    def _skip(self, alias: str, deployment: Deployment, why: str, retry_in: float | None) -> None:
        """Pass a deployment over without a call: on the trail, the counters, and
        ``ctx.attempts`` (as call number 0, outcome ``skipped``)."""
        name = deployment.name
        self.trail.skipped(name, why, retry_in)
        self.deps.counters.skips[why] += 1
        self.ctx.attempts.append(
            Attempt(
                name,
                0,
                time.perf_counter(),
                outcome="skipped",
                provider=deployment.provider.name,
                region=self.deps.board.state(name).info.region,
                alias=alias,
                cause=why,
            )
        )

    def _advance(self) -> bool:
        if not self._chain:
            return False
        self._alias, self._reason = self._chain.popleft()
        # Routing's constraints (data class, context fit, capabilities) hold during fallback too.
        self._group, excluded = self.deps.routes.select(self.ctx, self._alias)
        for skip in excluded:
            self.trail.skipped(skip.deployment, skip.detail, None)
        self._index = 0
        self._left = self.deps.retry.attempts_per_alias
        return True

    def failed(self, launch: Launch, error: PointsmanError) -> float | None:
        """Take in a failed call. Returns seconds to wait before :meth:`next` when the same
        deployment is to be retried, else None. Re-raises ``error`` when the request itself is
        at fault (or a typed refusal has nowhere configured to go)."""
        deps = self.deps
        name = launch.deployment.name
        what = cause(error)
        self.last = (name, what)
        self.trail.failed(name, what, error, launch.state.retry_in(deps.clock()) or None)
        kind = verdict(error)
        if kind is Verdict.STOP:
            raise error
        if kind is Verdict.CONTEXT or kind is Verdict.POLICY:
            plan = deps.plans.get(launch.alias, NO_PLAN)
            target = plan.on_context_window if kind is Verdict.CONTEXT else plan.on_content_policy
            if target is None or target in self._redirected:
                raise error
            self._redirect(target, kind.value)
            return None
        if kind is Verdict.RETRY and self._retry_same and launch.retry < deps.retry.same_deployment:
            retry_after = getattr(error, "retry_after", None)
            wait = retry_wait(launch.retry + 1, retry_after, deps.retry, deps.rng)
            if wait <= deps.retry.max_wait:
                self._pending = launch
                return wait + (RETRY_AFTER_MARGIN if retry_after else 0.0)
        return None

    def _redirect(self, target: str, reason: str) -> None:
        self._redirected.add(target)
        plan = self.deps.plans.get(target, NO_PLAN)
        self._chain = deque([(target, reason), *((a, "fallback") for a in plan.fallbacks)])
        self._left = 0  # leave the current alias
        self._free = True
        self.deps.counters.redirects[reason] += 1

    def has_alternative(self) -> bool:
        """Whether another deployment could take over now if the current call were abandoned
        (used to decide whether a TTFT timeout may cut a call). No side effects."""
        if (self._left <= 0 or self._index >= len(self._group)) and not self._chain:
            return False  # the common single-deployment case, decided at once
        deps = self.deps
        now = deps.clock()
        if deps.budget.allowance(now) < 1:
            return False
        board, called = deps.board, self._called
        rest = self._group[self._index :] if self._left > 0 else []
        for deployment in rest:
            if deployment.name not in called and board.state(deployment.name).available(now):
                return True
        for alias, _ in self._chain:
            for deployment in deps.routes.select(self.ctx, alias)[0]:
                if deployment.name not in called and board.state(deployment.name).available(now):
                    return True
        return False

    def error(self) -> PointsmanError:
        """The error for the client once :meth:`next` returned None."""
        return self.trail.error(self.calls)
