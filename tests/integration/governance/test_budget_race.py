"""A hard budget is never exceeded under concurrency: one worker, and two replicas."""

from __future__ import annotations

import asyncio
import os
import secrets
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from pointsman.simulator.server import SimServer

from ..conftest import ENV, GatewayFactory, gateway_config
from ..test_reload import free_port, wait_ready
from .admin_client import fire, provision, team_spend

# sim-instant at 0.10/0.40 USD per million tokens: a 10-token answer to "hello N" costs 5
# micro-USD, so 500 micro-USD is about 100 requests.
BUDGET_USD = 0.0005
REQUESTS = 1000


def check(outcomes: dict[str, int], spend: dict, budget_micros: int) -> None:
    """Requests that fail for another reason (e.g. a replica that doesn't know the key: 401)
    show up in ``outcomes`` and fail the first assertion."""
    print(f"outcomes {dict(outcomes)}, recorded {spend}, budget {budget_micros} micro-USD")
    assert set(outcomes) <= {"ok", "budget_exceeded"}, outcomes
    assert sum(outcomes.values()) == REQUESTS
    assert 80 <= outcomes["ok"] <= 100, outcomes  # most of the budget is usable, none beyond it
    assert spend["requests"] == outcomes["ok"]  # every success recorded, nothing else
    assert round(spend["cost_usd"] * 1_000_000) <= budget_micros


async def test_one_worker_memory_state(start_gateway: GatewayFactory) -> None:
    async with start_gateway() as url:
        team, secret = await provision(url, BUDGET_USD)
        outcomes = await fire([url], secret, REQUESTS)
        spend = await team_spend(url, team, outcomes["ok"])
    check(outcomes, spend, round(BUDGET_USD * 1e6))


def _pg_url() -> str:
    return os.environ.get(
        "POINTSMAN_TEST_PG_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
    )


async def _reachable(host: str, port: int) -> bool:
    try:
        _, writer = await asyncio.wait_for(asyncio.open_connection(host, port), 1.0)
    except (OSError, TimeoutError):
        return False
    writer.close()
    return True


def _serve(path: Path, port: int) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", "pointsman", "serve", "--config", str(path)]
    return subprocess.Popen(
        [*command, "--port", str(port)], env={**os.environ, **ENV}, stderr=subprocess.DEVNULL
    )


async def test_two_replicas_redis_and_postgres(sim: SimServer, tmp_path: Path) -> None:
    if not await _reachable("127.0.0.1", 6379):
        pytest.skip("Redis is not running on 127.0.0.1:6379 (CI starts it: .ci/run)")
    if not await _reachable("127.0.0.1", 5432):
        pytest.skip("PostgreSQL is not running on 127.0.0.1:5432 (CI starts it: .ci/run)")
    run = secrets.token_hex(4)
    config = gateway_config(
        sim.port,
        store={"url": _pg_url(), "schema": f"race_{run}"},
        state={"url": "redis://127.0.0.1:6379/0", "prefix": f"pointsman-test-{run}:"},
        governance={"refresh_seconds": 0.2},
    )
    path = tmp_path / "pointsman.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    ports = [free_port(), free_port()]
    replicas = [_serve(path, ports[0])]
    urls = [f"http://127.0.0.1:{p}" for p in ports]
    try:
        await wait_ready(urls[0])  # the first one migrates the schema
        replicas.append(_serve(path, ports[1]))
        await wait_ready(urls[1])
        team, secret = await provision(urls[0], BUDGET_USD)
        await asyncio.sleep(0.6)  # the other replica learns the key and budget (refresh 0.2 s)
        outcomes = await fire(urls, secret, REQUESTS)
        for replica in replicas:  # SIGTERM drains each replica's usage queue
            replica.send_signal(signal.SIGTERM)
        await asyncio.gather(*(asyncio.to_thread(r.wait, 30) for r in replicas))
        replicas = [_serve(path, ports[0])]
        await wait_ready(urls[0])
        spend = await team_spend(urls[0], team, outcomes["ok"])
    finally:
        for replica in replicas:
            replica.terminate()
        await asyncio.gather(*(asyncio.to_thread(r.wait, 30) for r in replicas))
        await _drop_schema(f"race_{run}")
    check(outcomes, spend, round(BUDGET_USD * 1e6))


async def _drop_schema(schema: str) -> None:
    from sqlalchemy import text
    from sqlalchemy.ext.asyncio import create_async_engine

    engine = create_async_engine(_pg_url())
    async with engine.begin() as conn:
        await conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
    await engine.dispose()
