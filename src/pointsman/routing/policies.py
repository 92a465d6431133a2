"""Leaf policies: the order in which to try an alias's (allowed) deployments.

Each policy gets the deployments that passed the constraints and returns them all, reordered:
the first is the pick, the rest are the alias's own fallbacks in a sensible order. A weight of 0
keeps its meaning under every policy: such a deployment is only ever a fallback (unless every
allowed one has weight 0).

Randomness, clocks and health signals are injected (``rng``, :class:`Signals`), so every policy
is deterministic under test. Policies are per config snapshot and per alias; the only state is
the AIMD shares of :class:`Cheapest`, which learn from finished requests (:meth:`observe`).
"""

from __future__ import annotations

import random
import zlib
from collections.abc import Callable, Sequence
from typing import Protocol

from pointsman.core.pipeline import Attempt, RequestContext
from pointsman.routing.settings import CheapestPolicy, WeightedPolicy
from pointsman.routing.table import Deployment


class Signals(Protocol):
    """Live signals about deployments, by name (``provider/model``)."""

    def latency(self, name: str) -> float | None:
        """EWMA of seconds to the first byte, None before the first answer."""
        ...

    def busy(self, name: str) -> int:
        """Requests in flight to it in this process."""
        ...


class LeafPolicy(Protocol):
    kind: str

    def order(self, deployments: list[Deployment], ctx: RequestContext) -> list[Deployment]: ...


def _split(deployments: list[Deployment]) -> tuple[list[Deployment], list[Deployment]]:
    """(eligible for the first pick, weight-0 fallbacks)."""
    pool = [d for d in deployments if d.weight > 0]
    if not pool:
        return deployments, []
    return pool, [d for d in deployments if d.weight <= 0]


class Weighted:
    """First pick drawn by weight (sticky if configured), then by weight."""

    kind = "weighted"

    def __init__(self, alias: str, settings: WeightedPolicy | None, rng: random.Random) -> None:
        self.alias = alias
        self.sticky = settings.sticky if settings else None
        self.header = settings.session_header if settings else "x-session-id"
        self.rng = rng

    def draw(self, ctx: RequestContext) -> float:
        """A number in [0, 1): a hash of the sticky identity when there is one, else random."""
        who: str | None = None
        if self.sticky == "key" and ctx.caller is not None:
            who = ctx.caller.key_id
        elif self.sticky == "session":
            who = ctx.headers.get(self.header)
        if who is None:
            return self.rng.random()
        return zlib.crc32(f"{self.alias}\x00{who}".encode()) / 2**32

    def order(self, deployments: list[Deployment], ctx: RequestContext) -> list[Deployment]:
        if len(deployments) <= 1:
            return deployments
        total = sum(d.weight for d in deployments)
        if total <= 0:
            return deployments
        draw = self.draw(ctx) * total
        first = deployments[-1]
        for deployment in deployments:
            draw -= deployment.weight
            if draw < 0:
                first = deployment
                break
        rest = sorted((d for d in deployments if d is not first), key=lambda d: -d.weight)
        return [first, *rest]


class LeastLatency:
    """Power of two choices: two random candidates, the one with the lower latency EWMA first;
    the rest by EWMA. A deployment without a sample yet counts as 0 s, so it gets explored."""

    kind = "least_latency"

    def __init__(self, signals: Signals, rng: random.Random) -> None:
        self.signals = signals
        self.rng = rng

    def order(self, deployments: list[Deployment], ctx: RequestContext) -> list[Deployment]:
        if len(deployments) <= 1:
            return deployments
        pool, spare = _split(deployments)
        latency = self.signals.latency

        def key(d: Deployment) -> float:
            return latency(d.name) or 0.0

        if len(pool) == 1:
            return [*pool, *spare]
        a, b = self.rng.sample(pool, 2)
        first = a if key(a) <= key(b) else b
        rest = sorted((d for d in pool if d is not first), key=key)
        return [first, *rest, *sorted(spare, key=key)]


class LeastBusy:
    """Fewest requests in flight first; ties in random order (else the first listed would take
    every request of a quiet gateway)."""

    kind = "least_busy"

    def __init__(self, signals: Signals, rng: random.Random) -> None:
        self.signals = signals
        self.rng = rng

    def order(self, deployments: list[Deployment], ctx: RequestContext) -> list[Deployment]:
        if len(deployments) <= 1:
            return deployments
        pool, spare = _split(deployments)
        pool = list(pool)
        self.rng.shuffle(pool)
        busy = self.signals.busy
        return sorted(pool, key=lambda d: busy(d.name)) + spare


class Aimd:
    """Additive-increase / multiplicative-decrease shares in [floor, 1], by deployment name."""

    def __init__(self, increase: float, decrease: float, floor: float) -> None:
        self.increase = increase
        self.decrease = decrease
        self.floor = floor
        self.shares: dict[str, float] = {}

    def share(self, name: str) -> float:
        return self.shares.get(name, 1.0)

    def success(self, name: str) -> None:
        self.shares[name] = min(1.0, self.share(name) + self.increase)

    def overload(self, name: str) -> None:
        self.shares[name] = max(self.floor, self.share(name) * self.decrease)


def overloaded(attempt: Attempt) -> bool | None:
    """True when a call's outcome says the deployment is overloaded or failing (429, 5xx,
    timeouts, connection errors), False for a success, None when it says nothing about the
    deployment (the request's own 4xx, a call cancelled because the client left, a skip)."""
    if attempt.outcome == "ok":
        return False
    if attempt.outcome == "skipped":  # passed over without a call: the breaker's business
        return None
    cause = attempt.cause or ""
    if cause == "cancelled" or (cause.startswith("http_4") and cause != "http_429"):
        return None
    return True


class Cheapest:
    """Cheapest first (blended catalog price; unpriced models last), with AIMD shares: going
    down the price order, each deployment is the pick with probability its share. A healthy
    cheapest deployment (share 1) takes all traffic; an overloaded one sheds a share to the next
    and wins it back gradually, so traffic never flips back and forth between providers."""

    kind = "cheapest"

    def __init__(
        self,
        settings: CheapestPolicy,
        price: Callable[[Deployment], float | None],
        rng: random.Random,
    ) -> None:
        self.aimd = Aimd(settings.increase, settings.decrease, settings.floor)
        self.price = price
        self.rng = rng
        self.names: set[str] = set()

    def order(self, deployments: list[Deployment], ctx: RequestContext) -> list[Deployment]:
        if len(deployments) <= 1:
            return deployments
        pool, spare = _split(deployments)
        inf = float("inf")
        by_price = sorted(pool, key=lambda d: p if (p := self.price(d)) is not None else inf)
        self.names.update(d.name for d in by_price)
        share = self.aimd.share
        first = max(by_price, key=lambda d: share(d.name))  # when every draw says no
        for deployment in by_price:
            if self.rng.random() < share(deployment.name):
                first = deployment
                break
        return [first, *(d for d in by_price if d is not first), *spare]

    def observe(self, attempts: Sequence[Attempt]) -> None:
        """Learn from a finished request's calls (successes raise shares, overloads cut them)."""
        for attempt in attempts:
            if attempt.deployment not in self.names:
                continue
            verdict = overloaded(attempt)
            if verdict is True:
                self.aimd.overload(attempt.deployment)
            elif verdict is False:
                self.aimd.success(attempt.deployment)
