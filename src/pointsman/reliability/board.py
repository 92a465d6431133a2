"""What Pointsman knows about each deployment's health: breaker, rate-limit cooldown, latency.

The :class:`HealthBoard` holds one :class:`DeploymentState` per deployment name
(``provider/model``). It lives as long as the process: a config reload keeps the state of every
deployment that still exists (same name, same provider URL) and drops the others. The attempt
loop reads it on the hot path (:meth:`DeploymentState.gate`, a few attribute reads when healthy)
and writes every call's outcome to it; health checks and other replicas feed it too.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from pointsman.reliability.breaker import DENY, PROBE, Breaker, BreakerState, Transition
from pointsman.reliability.settings import BreakerSettings

BREAKER_OPEN = "breaker_open"
RATE_LIMITED = "rate_limited"
DEFAULT_RATE_LIMIT_COOLDOWN = 1.0  # a 429 that says nothing about when to come back
EWMA_ALPHA = 0.2  # weight of the newest latency sample


@dataclass(frozen=True, slots=True)
class DeploymentInfo:
    """The static facts of a deployment, from the config."""

    name: str
    provider: str
    model: str
    region: str | None = None
    base_url: str = ""


@dataclass(slots=True)
class ProbeRecord:
    ok: bool
    at: float  # wall-clock time, for humans
    latency: float
    kind: str
    detail: str = ""


TransitionHook = Callable[["DeploymentState", Transition], None]


@dataclass(slots=True)
class DeploymentState:
    """One deployment's health. ``breaker`` decides; the rest is for routing and humans."""

    info: DeploymentInfo
    breaker: Breaker
    cooling_until: float = 0.0  # rate limited: no call before this (monotonic clock)
    latency_ewma: float | None = None  # seconds to the first byte of an answer
    calls: int = 0
    failures: int = 0
    last_error: str | None = None
    last_error_at: float | None = None  # wall-clock
    last_probe: ProbeRecord | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.info.name

    def gate(self, now: float) -> tuple[str | None, bool]:
        """``(None, probe)`` when a call may go now (``probe``: it is the half-open probe), else
        ``(cause, False)`` with ``cause`` ``rate_limited`` or ``breaker_open``."""
        if self.cooling_until > now:
            return RATE_LIMITED, False
        granted = self.breaker.allow(now)
        if granted == DENY:
            return BREAKER_OPEN, False
        return None, granted == PROBE

    def available(self, now: float) -> bool:
        """Whether :meth:`gate` would let a call through now (no side effect)."""
        return self.cooling_until <= now and self.breaker.available(now)

    def retry_in(self, now: float) -> float:
        """Seconds until a call may go again."""
        return max(self.cooling_until - now, self.breaker.retry_in(now), 0.0)

    def responded(self, latency: float, now: float, probe: bool) -> None:
        """The deployment started answering (first byte). Closes a half-open breaker when this
        call was the probe; the call's outcome is recorded later by :meth:`finished`."""
        ewma = self.latency_ewma
        self.latency_ewma = latency if ewma is None else ewma + EWMA_ALPHA * (latency - ewma)
        if probe:
            self.breaker.record(True, now, probe=True)

    def finished(self, ok: bool, now: float, error: str | None = None) -> None:
        """A call's final outcome (after :meth:`responded` when it got that far)."""
        self.calls += 1
        if ok:
            self.breaker.record(True, now)
            return
        self.failures += 1
        self._note_error(error)
        self.breaker.record(False, now)

    def failed(self, now: float, error: str, probe: bool) -> None:
        """A call failed before answering, through the deployment's fault."""
        self.calls += 1
        self.failures += 1
        self._note_error(error)
        self.breaker.record(False, now, probe=probe)

    def rate_limited(self, now: float, retry_after: float | None, probe: bool) -> None:
        """A 429: nobody calls this deployment before the reset. Not a breaker failure."""
        self.calls += 1
        wait = DEFAULT_RATE_LIMIT_COOLDOWN if retry_after is None else retry_after
        self.cooling_until = max(self.cooling_until, now + wait)
        self._note_error(f"rate limited for {wait:g}s")
        if probe:
            self.breaker.release()

    def released(self, probe: bool) -> None:
        """A call ended without a verdict on the deployment (cancelled; the client's error)."""
        if probe:
            self.breaker.release()

    def _note_error(self, error: str | None) -> None:
        self.last_error = error
        self.last_error_at = time.time()

    def snapshot(self, now: float) -> dict[str, Any]:
        breaker = self.breaker
        rate, samples = breaker.error_rate(now)
        ewma = self.latency_ewma
        probe = self.last_probe
        return {
            "name": self.name,
            "provider": self.info.provider,
            "model": self.info.model,
            "region": self.info.region,
            "state": RATE_LIMITED if self.cooling_until > now else breaker.state.value,
            "breaker": breaker.state.value,
            "retry_in_s": round(self.retry_in(now), 3),
            "error_rate": round(rate, 4),
            "window_calls": samples,
            "consecutive_failures": breaker.consecutive,
            "latency_ewma_ms": None if ewma is None else round(ewma * 1000, 2),
            "calls": self.calls,
            "failures": self.failures,
            "times_opened": breaker.opened,
            "strikes": breaker.strikes,
            "last_error": self.last_error,
            "last_error_at": self.last_error_at,
            "last_probe": None
            if probe is None
            else {
                "ok": probe.ok,
                "at": probe.at,
                "kind": probe.kind,
                "latency_ms": round(probe.latency * 1000, 2),
                "detail": probe.detail,
            },
        }


class HealthBoard:
    """Every deployment's :class:`DeploymentState`, by name. ``on_transition`` hears every
    breaker state change (for logs, counters and replica sync)."""

    def __init__(
        self,
        settings: BreakerSettings,
        on_transition: TransitionHook | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings
        self.on_transition = on_transition
        self.clock = clock
        self.states: dict[str, DeploymentState] = {}

    def configure(self, deployments: Iterable[DeploymentInfo], settings: BreakerSettings) -> None:
        """Adopt a config snapshot's deployments: a state survives when its name and provider
        URL are unchanged; new ones start closed; ones no longer configured are dropped."""
        self.settings = settings
        fresh: dict[str, DeploymentState] = {}
        for info in deployments:
            state = self.states.get(info.name)
            if state is not None and state.info.base_url == info.base_url:
                state.info = info
                state.breaker.reconfigure(settings)
            else:
                state = self._new(info)
            fresh[info.name] = state
        self.states = fresh

    def state(self, name: str) -> DeploymentState:
        """The state of ``name``, created (closed) if the board has not heard of it."""
        state = self.states.get(name)
        if state is None:
            provider, _, model = name.partition("/")
            state = self.states[name] = self._new(DeploymentInfo(name, provider, model))
        return state

    def _new(self, info: DeploymentInfo) -> DeploymentState:
        breaker = Breaker(self.settings)
        state = DeploymentState(info, breaker)
        hook = self.on_transition
        if hook is not None:
            breaker.on_transition = lambda transition: hook(state, transition)
        return state

    def snapshot(self) -> list[dict[str, Any]]:
        now = self.clock()
        return [state.snapshot(now) for state in self.states.values()]

    def open_count(self) -> int:
        return sum(s.breaker.state is not BreakerState.CLOSED for s in self.states.values())
