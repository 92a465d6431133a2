"""Cost of budgets and rate limits per request, on the memory and the Redis state backends.

    python benchmarks/bench_state.py                 # about 30 s
    python benchmarks/bench_state.py --quick         # about 10 s
    python benchmarks/bench_state.py --redis redis://127.0.0.1:6379/0

For each backend it measures, through the real governance classes:

* ``budget``: reserve + settle of one request across three levels (org, team, key);
* ``rpm``: admit + settle against an RPM limit;
* ``limits``: admit + settle against RPM, TPM, concurrency and the cost bucket at once;
* ``request``: everything one request pays, both stages (``limits`` + ``budget``).

Latency p50/p99 is taken one operation at a time (concurrency 1); throughput and the worker's
CPU time per request with 64 requests in flight. CPU microseconds per request is the figure that
bounds a worker: at 2,000 requests/s a worker has 500 us of CPU per request in total. The Redis
server's own CPU is not counted (it runs in its own process). The process is pinned to core 0.
Results are printed and written to ``benchmarks/results/state.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from pointsman.governance.budgets import BudgetBook, BudgetLedger, BudgetSpec, Scope, Subjects
from pointsman.governance.limits import LimitBook, LimitSpec, RateLimiter
from pointsman.state.base import StateBackend, StateUnavailableError
from pointsman.state.memory import MemoryBackend
from pointsman.state.redis import RedisBackend

RESULTS = Path(__file__).with_name("results") / "state.json"
KEYS = 100  # requests come from many keys of one team and one org
BIG = 10**9  # limits high enough that nothing is refused: we measure the checks, not refusals

Op = Callable[[int], Awaitable[None]]


def governance(backend: StateBackend) -> tuple[BudgetLedger, RateLimiter, RateLimiter]:
    budgets = BudgetBook(
        [
            BudgetSpec(scope=Scope.ORG, subject="acme", limit_usd=1e6),
            BudgetSpec(scope=Scope.TEAM, subject="research", limit_usd=1e6),
            BudgetSpec(scope=Scope.KEY, subject="*", limit_usd=1e6),
        ]
    )
    rpm_only = LimitBook(keys={"*": LimitSpec(rpm=BIG)})
    every_limit = LimitBook(
        keys={"*": LimitSpec(rpm=BIG, tpm=BIG, concurrent=BIG, usd_per_second=1e6)}
    )
    return (
        BudgetLedger(backend, budgets),
        RateLimiter(backend, rpm_only),
        RateLimiter(backend, every_limit),
    )


def operations(backend: StateBackend) -> dict[str, Op]:
    ledger, rpm_limiter, limiter = governance(backend)

    async def budget(i: int) -> None:
        who = Subjects(org="acme", team="research", key=f"k{i % KEYS}")
        reservation = await ledger.reserve(who, 2_000)
        await ledger.settle(reservation, 1_500)

    async def rpm(i: int) -> None:
        ticket = await rpm_limiter.admit(key=f"k{i % KEYS}", team=None, model=None, tokens=0)
        await rpm_limiter.settle(ticket, tokens=0, cost=0)

    async def limits(i: int) -> None:
        ticket = await limiter.admit(key=f"k{i % KEYS}", team=None, model=None, tokens=300)
        await limiter.settle(ticket, tokens=250, cost=1_500)

    async def request(i: int) -> None:
        await limits(i)
        await budget(i)

    return {"budget": budget, "rpm": rpm, "limits": limits, "request": request}


async def latency(op: Op, count: int) -> dict[str, float]:
    samples = []
    for i in range(count):
        start = time.perf_counter()
        await op(i)
        samples.append(time.perf_counter() - start)
    samples.sort()
    return {
        "p50_us": samples[len(samples) // 2] * 1e6,
        "p99_us": samples[int(len(samples) * 0.99)] * 1e6,
        "mean_us": statistics.fmean(samples) * 1e6,
    }


async def throughput(op: Op, count: int, concurrency: int = 64) -> dict[str, float]:
    queue = iter(range(count))

    async def worker() -> None:
        for i in queue:
            await op(i)

    cpu, wall = time.process_time(), time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    return {"ops_per_s": count / wall, "cpu_us_per_op": cpu / count * 1e6}


async def measure(backend: StateBackend, count: int) -> dict[str, dict[str, float]]:
    ops = operations(backend)
    for op in ops.values():  # warm up: connections, script loading, first keys
        for i in range(200):
            await op(i)
    return {
        name: {**await latency(op, count), **await throughput(op, count)}
        for name, op in ops.items()
    }


async def run(redis_url: str, count: int) -> dict[str, Any]:
    results: dict[str, Any] = {"memory": await measure(MemoryBackend(), count)}
    prefix = f"bench:{uuid.uuid4().hex[:8]}:"
    redis = RedisBackend.from_url(redis_url, prefix=prefix)
    try:
        await redis.ping()
        results["redis"] = await measure(redis, count)
    except StateUnavailableError as error:
        results["redis"] = {"skipped": str(error)}
    finally:
        keys = [k async for k in redis.client.scan_iter(match=prefix + "*", count=1000)]
        for start in range(0, len(keys), 1000):
            await redis.client.delete(*keys[start : start + 1000])
        await redis.close()
    return results


def report(results: dict[str, Any], console: Console) -> None:
    table = Table(title="State backends: cost per operation (each op = charge + settle)")
    for column in ("backend", "op", "p50 µs", "p99 µs", "ops/s (64 in flight)", "CPU µs/op"):
        table.add_column(column, justify="right" if "µs" in column or "/s" in column else "left")
    for backend, ops in results["backends"].items():
        if "skipped" in ops:
            table.add_row(backend, "skipped", ops["skipped"], "", "", "")
            continue
        for name, m in ops.items():
            table.add_row(
                backend,
                name,
                f"{m['p50_us']:.0f}",
                f"{m['p99_us']:.0f}",
                f"{m['ops_per_s']:,.0f}",
                f"{m['cpu_us_per_op']:.0f}",
            )
    console.print(table)
    for backend, ops in results["backends"].items():
        if "request" in ops:
            cpu = ops["request"]["cpu_us_per_op"]
            console.print(
                f"{backend}: both stages cost {cpu:.0f} µs of worker CPU per request, "
                f"{cpu / 500:.0%} of the 500 µs a worker has per request at 2,000 req/s"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--quick", action="store_true", help="fewer samples")
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {0})
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    count = 2_000 if args.quick else 10_000
    backends = asyncio.run(run(args.redis, count))
    results = {
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "samples": count,
        "backends": backends,
    }
    report(results, Console())
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
