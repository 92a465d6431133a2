"""Concurrency proofs: a hard budget and an RPM limit hold under a burst, in one event loop on
the memory backend and from two separate processes (own loop, own connections) on Redis."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Any

from pointsman.governance.budgets import Scope
from pointsman.state.memory import MemoryBackend

from .conftest import REDIS_URL, drop_keys, open_redis, unique_prefix
from .hammer import RPM, TEAM_CAP_USD, WHO, budget, make_ledger

HAMMER = Path(__file__).with_name("hammer.py")
TEAM_CAP = round(TEAM_CAP_USD * 1_000_000)
MAX_AMOUNT = 1500


async def run_workers(mode: str, prefix: str, count: int, workers: int = 2) -> list[dict[str, Any]]:
    """Start the workers, release them together, and collect what each one saw."""
    procs = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            str(HAMMER),
            mode,
            REDIS_URL,
            prefix,
            str(count),
            str(seed),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        for seed in range(workers)
    ]
    try:
        for proc in procs:
            assert proc.stdout is not None
            line = await asyncio.wait_for(proc.stdout.readline(), 60)
            assert line == b"ready\n", line
        for proc in procs:
            assert proc.stdin is not None
            proc.stdin.write(b"go\n")
            await proc.stdin.drain()
        results = []
        for proc in procs:
            out, err = await asyncio.wait_for(proc.communicate(), 120)
            assert proc.returncode == 0, err.decode()
            results.append(json.loads(out.decode().splitlines()[-1]))
        return results
    finally:
        for proc in procs:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()


def check_budget_outcome(results: list[dict[str, Any]], usage: list[Any], total: int) -> None:
    granted = sum(r["granted"] for r in results)
    refused = sum(r["refused"] for r in results)
    assert sum(r["errors"] for r in results) == 0
    assert granted + refused == total  # every request got exactly one answer
    assert refused > 0  # the burst really hit the cap
    # The first refusal needs spent + reserved > cap - MAX_AMOUNT, built from granted requests
    # of at most MAX_AMOUNT each: fewer grants would mean the cap was not really used.
    assert granted >= (TEAM_CAP - MAX_AMOUNT) // MAX_AMOUNT
    assert max(r["peak"] for r in results) <= TEAM_CAP
    actual = sum(r["actual"] for r in results)
    for level, state in usage:
        assert state.reserved == 0, level.name  # every hold was settled
        assert state.spent == actual, level.name  # no spend lost or double-counted
        if level.spec.scope is Scope.TEAM:
            assert state.spent <= TEAM_CAP


async def test_hard_budget_holds_for_1000_concurrent_reservations_in_memory() -> None:
    backend = MemoryBackend()
    result = await budget(backend, 1000, seed=7)
    check_budget_outcome([result], await make_ledger(backend).usage(WHO), 1000)


async def test_hard_budget_holds_across_two_processes_on_redis() -> None:
    prefix = unique_prefix()
    redis = await open_redis(prefix)
    try:
        results = await run_workers("budget", prefix, 500)
        usage = await make_ledger(redis).usage(WHO)
        check_budget_outcome(results, usage, 1000)
        assert len(usage) == 3
    finally:
        await drop_keys(redis)
        await redis.close()


async def test_rpm_admits_exactly_the_limit_across_two_processes_on_redis() -> None:
    prefix = unique_prefix()
    redis = await open_redis(prefix)
    try:
        results = await run_workers("rpm", prefix, 200)
    finally:
        await drop_keys(redis)
        await redis.close()
    assert sum(r["errors"] for r in results) == 0
    assert sum(r["admitted"] for r in results) == RPM
    assert sum(r["refused"] for r in results) == 400 - RPM
