"""Hedged requests: when the first call has not answered after a delay, race the next one.

After "The Tail at Scale" (Dean and Barroso): a request still waiting for its first token after
``hedge_after`` seconds starts the next candidate in parallel (at most :data:`MAX_PARALLEL`
calls at once); the first call to answer wins and every other is cancelled, which closes its
upstream connection (a stream already primed is closed explicitly). A failed call is replaced by
the next candidate at once, as without hedging, but never retried on the same deployment.

Hedged calls are extra attempts: each needs the retry budget's consent, so hedging cannot more
than ``1 + ratio`` the upstream load.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any

from pointsman.errors import PointsmanError
from pointsman.reliability.calls import Answer
from pointsman.reliability.counters import ReliabilityCounters
from pointsman.reliability.streams import GuardedStream
from pointsman.reliability.walk import Launch, Walk

MAX_PARALLEL = 2

CallFn = Callable[[Launch], Coroutine[Any, Any, Answer]]


async def race(
    walk: Walk, attempt: CallFn, hedge_after: float, counters: ReliabilityCounters
) -> tuple[Launch, Answer]:
    """Run ``attempt`` over the walk's launches with hedging; the first answer wins.

    Raises the walk's error when every call failed, or a call's error when the walk says the
    request itself is at fault. Every call still running when this returns is cancelled and
    awaited, so no upstream connection outlives the request's choice.
    """
    running: dict[asyncio.Task[Answer], Launch] = {}

    def start(reason: str | None = None) -> bool:
        launch = walk.next()
        if launch is None:
            return False
        if reason is not None:
            launch.reason = reason
        running[asyncio.get_running_loop().create_task(attempt(launch))] = launch
        return True

    if not start():
        counters.unavailable += 1
        raise walk.error()
    first = next(iter(running.values()))
    can_hedge = True
    try:
        while running:
            hedging = can_hedge and len(running) < MAX_PARALLEL
            done, _ = await asyncio.wait(
                running,
                timeout=hedge_after if hedging else None,
                return_when=asyncio.FIRST_COMPLETED,
            )
            if not done:
                can_hedge = start("hedge")
                counters.hedges_started += can_hedge
                continue
            for task in done:
                launch = running.pop(task)
                error = task.exception()
                if error is None:
                    counters.hedges_won += launch is not first
                    return launch, task.result()
                if not isinstance(error, PointsmanError):
                    raise error
                walk.failed(launch, error)  # raises when the request itself is at fault
            if not running:
                start()
    finally:
        await _settle(running)
    counters.unavailable += 1
    raise walk.error()


async def _settle(running: dict[asyncio.Task[Answer], Launch]) -> None:
    """Cancel the calls still running and close any stream a losing call already opened."""
    tasks = list(running)
    for task in tasks:
        task.cancel()
    results = await asyncio.gather(*tasks, return_exceptions=True)
    for result in results:
        if isinstance(result, GuardedStream):
            await result.aclose()
