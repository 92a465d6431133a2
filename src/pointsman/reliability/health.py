"""Active health checks: a cheap probe per provider (or deployment) on a schedule.

Probes feed the same :class:`~pointsman.reliability.board.HealthBoard` as live traffic:

* ``models`` (default): one ``list_models()`` call per provider per interval. A failure counts
  as a failed call of every deployment of that provider (so an idle, unreachable provider is
  found out before a request is sent to it); a success proves only that the provider answers,
  so it never closes a breaker.
* ``chat``: a one-token chat call per deployment. Decisive: once a breaker's cooldown is over,
  a success closes it and a failure re-opens it, so live requests need not be the probes. While
  a breaker is open the next probe is scheduled for the end of its cooldown.

A 429 to a probe says the deployment is up but busy: recorded, not counted as a failure; and a
deployment waiting out a rate limit is not probed at all. The first probe of each target comes
at a random point of its first interval so that replicas and providers do not all probe at once.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from pointsman.core.types import ChatRequest, Message
from pointsman.errors import PointsmanError, UpstreamRateLimitedError
from pointsman.providers.base import ChatCall, ChatProvider, ModelListProvider, Provider
from pointsman.reliability.board import HealthBoard, ProbeRecord
from pointsman.reliability.breaker import BreakerState
from pointsman.reliability.classify import Verdict, verdict
from pointsman.reliability.settings import HealthCheckSettings

log = logging.getLogger("pointsman.reliability")
PROBE_TEXT = "ping"


@dataclass(frozen=True, slots=True)
class ProbeTarget:
    """One scheduled probe: a provider's model list (``model`` None), or one deployment's
    one-token chat. ``deployments`` are the names whose health it speaks for."""

    provider: Provider
    settings: HealthCheckSettings
    deployments: tuple[str, ...]
    model: str | None = None

    @property
    def label(self) -> str:
        return f"{self.provider.name}/{self.model}" if self.model else self.provider.name


def probe_targets(
    providers: Iterable[tuple[Provider, HealthCheckSettings, Iterable[tuple[str, str]]]],
) -> list[ProbeTarget]:
    """Targets for ``(provider, settings, [(deployment name, model)])`` triples: one per
    provider for ``models`` probes, one per deployment for ``chat`` probes; none when disabled
    or when the provider cannot answer that kind of probe."""
    targets: list[ProbeTarget] = []
    for provider, settings, deployments in providers:
        pairs = sorted(set(deployments))
        if not settings.enabled or not pairs:
            continue
        if settings.probe == "chat" and isinstance(provider, ChatProvider):
            targets += [ProbeTarget(provider, settings, (name,), model) for name, model in pairs]
        elif isinstance(provider, ModelListProvider):
            targets.append(ProbeTarget(provider, settings, tuple(name for name, _ in pairs)))
    return targets


class HealthChecker:
    """Runs :class:`ProbeTarget` probes on their schedules. One task per target."""

    def __init__(
        self,
        board: HealthBoard,
        clock: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
    ) -> None:
        self.board = board
        self.clock = clock
        self.rng = rng or random.Random()
        self.probes = 0
        self._tasks: list[asyncio.Task[None]] = []
        self._generation = 0  # bumped by track() and stop(): older loops end at their next turn

    @property
    def running(self) -> bool:
        return bool(self._tasks)

    def track(self, targets: Iterable[ProbeTarget]) -> None:
        """Probe ``targets`` from now on (replacing the previous ones). Inside the event loop."""
        for task in self._tasks:
            task.cancel()
        self._generation += 1
        loop = asyncio.get_running_loop()
        self._tasks = [loop.create_task(self._run(target, self._generation)) for target in targets]

    async def stop(self) -> None:
        """Stop probing; waits at most a second for the probes in flight to end."""
        self._generation += 1
        tasks, self._tasks = self._tasks, []
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=1.0)

    async def _run(self, target: ProbeTarget, generation: int) -> None:
        await asyncio.sleep(self.rng.uniform(0, target.settings.interval))
        # The generation, not only the cancellation, ends the loop (a provider library that
        # swallowed a CancelledError must not keep probing a retired snapshot's provider).
        while generation == self._generation:
            try:
                await self.probe(target)
            except Exception:  # a probe must never kill the schedule
                log.exception("health probe of %s failed unexpectedly", target.label)
            await asyncio.sleep(self._next_delay(target))

    def _next_delay(self, target: ProbeTarget) -> float:
        interval = target.settings.interval
        if target.model is None:
            return interval
        now = self.clock()
        state = self.board.state(target.deployments[0])
        breaker = state.breaker
        if breaker.state is BreakerState.OPEN and breaker.open_until > now:
            return min(interval, breaker.open_until - now + 0.01)
        return interval

    async def probe(self, target: ProbeTarget) -> None:
        """Probe once and record the outcome on the board. Deployments waiting out a rate
        limit are not probed (a probe would spend the quota they are waiting for)."""
        states = [self.board.state(name) for name in target.deployments]
        if all(state.cooling_until > self.clock() for state in states):
            return
        self.probes += 1
        started = time.perf_counter()
        error: PointsmanError | None = None
        try:
            async with asyncio.timeout(target.settings.timeout):
                await self._call(target)
        except TimeoutError:
            error = PointsmanError(f"no answer within {target.settings.timeout:g}s")
            failure = True
        except PointsmanError as caught:
            error = caught
            failure = not isinstance(caught, UpstreamRateLimitedError) and verdict(caught) in (
                Verdict.RETRY,
                Verdict.NEXT,
            )
        else:
            failure = False
        latency = time.perf_counter() - started
        now = self.clock()
        kind = "chat" if target.model else "models"
        record = ProbeRecord(
            not failure, time.time(), latency, kind, error.message if error else ""
        )
        for state in states:
            state.last_probe = record
            if target.model is not None:  # decisive
                if error is None or failure:
                    state.breaker.probe_result(not failure, now)
            elif failure:
                state.breaker.record(False, now)

    async def _call(self, target: ProbeTarget) -> None:
        provider = target.provider
        if target.model is None:
            assert isinstance(provider, ModelListProvider)
            await provider.list_models()
            return
        assert isinstance(provider, ChatProvider)
        body = {
            "model": target.model,
            "messages": [{"role": "user", "content": PROBE_TEXT}],
            "max_tokens": 1,
        }
        request = ChatRequest(
            model=target.model, messages=[Message(role="user", content=PROBE_TEXT)], max_tokens=1
        )
        await provider.chat(ChatCall(request, body, target.model, target.deployments[0]))
