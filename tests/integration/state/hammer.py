"""One worker process for the cross-process concurrency tests (started by test_concurrency.py).

    python hammer.py budget|rpm URL PREFIX COUNT SEED

Connects with its own event loop and connection pool, prints ``ready``, waits for a line on
stdin (so that every worker starts at once), fires COUNT concurrent operations through the real
governance classes, and prints one JSON line with what it saw. The in-process memory test runs
:func:`budget` directly.
"""

from __future__ import annotations

import asyncio
import json
import random
import sys

from pointsman.errors import BudgetExceededError, RateLimitError
from pointsman.governance.budgets import BudgetBook, BudgetLedger, BudgetSpec, Scope, Subjects
from pointsman.governance.limits import LimitBook, LimitSpec, RateLimiter
from pointsman.state.base import StateBackend
from pointsman.state.selection import make_backend

TEAM_CAP_USD = 0.1  # 100,000 micro-USD: about 100 reservations of 500..1,500
BUDGETS = [
    BudgetSpec(scope=Scope.ORG, subject="acme", limit_usd=10.0),
    BudgetSpec(scope=Scope.TEAM, subject="research", limit_usd=TEAM_CAP_USD),
    BudgetSpec(scope=Scope.KEY, subject="k1", limit_usd=0.15),
]
WHO = Subjects(org="acme", team="research", key="k1")
RPM = 60


def make_ledger(backend: StateBackend) -> BudgetLedger:
    return BudgetLedger(backend, BudgetBook(BUDGETS), reservation_ttl=120.0)


async def budget(backend: StateBackend, count: int, seed: int) -> dict[str, object]:
    ledger = make_ledger(backend)
    rng = random.Random(seed)
    plans = [(rng.randint(500, 1500), rng.random(), rng.random() * 0.01) for _ in range(count)]
    granted = refused = errors = actual_total = 0
    peak = 0  # highest spent + reserved seen on the team level

    async def one(amount: int, share: float, pause: float) -> None:
        nonlocal granted, refused, errors, actual_total, peak
        try:
            reservation = await ledger.reserve(WHO, amount)
        except BudgetExceededError:
            refused += 1
            return
        except Exception:
            errors += 1
            return
        granted += 1
        team = reservation.states[[lv.spec.scope for lv in reservation.levels].index(Scope.TEAM)]
        peak = max(peak, team.spent + team.reserved)
        await asyncio.sleep(pause)
        actual = int(amount * share)  # never more than reserved: a true worst-case estimate
        await ledger.settle(reservation, actual)
        actual_total += actual

    await asyncio.gather(*(one(*plan) for plan in plans))
    return {
        "granted": granted,
        "refused": refused,
        "errors": errors,
        "actual": actual_total,
        "peak": peak,
    }


async def rpm(backend: StateBackend, count: int, seed: int) -> dict[str, object]:
    limiter = RateLimiter(backend, LimitBook(keys={"k1": LimitSpec(rpm=RPM)}))
    admitted = refused = errors = 0

    async def one() -> None:
        nonlocal admitted, refused, errors
        try:
            await limiter.admit(key="k1", team=None, model=None, tokens=0)
            admitted += 1
        except RateLimitError:
            refused += 1
        except Exception:
            errors += 1

    # Waves of ten, 2 ms apart: each worker's calls would otherwise leave in one pipelined
    # batch, and the two processes would take turns instead of contending.
    tasks = []
    for _ in range(0, count, 10):
        tasks += [asyncio.ensure_future(one()) for _ in range(10)]
        await asyncio.sleep(0.002)
    await asyncio.gather(*tasks)
    return {"admitted": admitted, "refused": refused, "errors": errors}


async def gate() -> None:
    print("ready", flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)


async def main(mode: str, url: str, prefix: str, count: int, seed: int) -> None:
    backend = make_backend(url, prefix=prefix)
    await backend.ping()
    try:
        run = budget if mode == "budget" else rpm
        await gate()
        print(json.dumps(await run(backend, count, seed)), flush=True)
    finally:
        await backend.close()


if __name__ == "__main__":
    mode, url, prefix, count, seed = sys.argv[1:6]
    asyncio.run(main(mode, url, prefix, int(count), int(seed)))
