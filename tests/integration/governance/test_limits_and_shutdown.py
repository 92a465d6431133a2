"""Rate limits are exact across replicas; SIGTERM under load loses no usage record."""

from __future__ import annotations

import asyncio
import os
import secrets
import signal
import subprocess
import sys
from pathlib import Path

import aiohttp
import openai
import pytest
import yaml
from sqlalchemy import select

from pointsman.simulator.server import SimServer
from pointsman.store.engine import create_engine
from pointsman.store.settings import StoreSettings
from pointsman.store.tables import usage_records

from ..conftest import ENV, MASTER_KEY, GatewayFactory, gateway_config
from ..test_reload import free_port, wait_ready
from .admin_client import fire, provision_key
from .test_budget_race import _reachable


async def test_rpm_limit_one_worker(start_gateway: GatewayFactory) -> None:
    async with start_gateway() as url:
        _, secret = await provision_key(url, rpm=60)
        outcomes = await fire([url], secret, 150)
    assert outcomes == {"ok": 60, "rate_limit_exceeded": 90}


def _serve(path: Path, port: int) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", "pointsman", "serve", "--config", str(path)]
    return subprocess.Popen(
        [*command, "--port", str(port)], env={**os.environ, **ENV}, stderr=subprocess.DEVNULL
    )


async def test_rpm_limit_two_replicas_admits_exactly_60(sim: SimServer, tmp_path: Path) -> None:
    if not await _reachable("127.0.0.1", 6379):
        pytest.skip("Redis is not running on 127.0.0.1:6379 (CI starts it: .ci/run)")
    run = secrets.token_hex(4)
    config = gateway_config(
        sim.port,
        tmp_path,
        state={"url": "redis://127.0.0.1:6379/0", "prefix": f"pointsman-test-{run}:"},
        governance={"refresh_seconds": 0.2},
    )
    path = tmp_path / "pointsman.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    ports = [free_port(), free_port()]
    urls = [f"http://127.0.0.1:{p}" for p in ports]
    replicas = [_serve(path, ports[0])]
    try:
        await wait_ready(urls[0])
        replicas.append(_serve(path, ports[1]))
        await wait_ready(urls[1])
        _, secret = await provision_key(urls[0], rpm=60)
        await asyncio.sleep(0.6)  # both replicas know the key and its limit
        outcomes = await fire(urls, secret, 150)
    finally:
        for replica in replicas:
            replica.terminate()
        await asyncio.gather(*(asyncio.to_thread(r.wait, 30) for r in replicas))
    assert outcomes == {"ok": 60, "rate_limit_exceeded": 90}


async def test_sigterm_under_load_keeps_every_usage_record(sim: SimServer, tmp_path: Path) -> None:
    """Requests still streaming when SIGTERM arrives finish, and all of them are recorded."""
    path = tmp_path / "pointsman.yaml"
    config = gateway_config(sim.port, tmp_path)
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    process = _serve(path, port)
    completed: list[str] = []
    await wait_ready(url)

    async def one(session: aiohttp.ClientSession, n: int) -> None:
        rid = f"sigterm-{n}"
        body = {"model": "fast", "stream": True, "messages": [{"role": "user", "content": "go"}]}
        headers = {"Authorization": f"Bearer {MASTER_KEY}", "x-request-id": rid}
        try:
            async with session.post(f"{url}/v1/chat/completions", json=body, headers=headers) as r:
                text = await r.text()
                if r.status == 200 and text.endswith("data: [DONE]\n\n"):
                    completed.append(rid)
        except aiohttp.ClientError:
            pass  # refused once shutdown began: not completed, not expected in the ledger

    async with aiohttp.ClientSession() as session:
        tasks = [asyncio.create_task(one(session, n)) for n in range(200)]
        await asyncio.sleep(0.15)  # streams are mid-flight (sim-small: 30 ms TTFT, 250 tok/s)
        process.send_signal(signal.SIGTERM)
        await asyncio.gather(*tasks)
    # uvicorn shuts down gracefully (lifespan drains the usage queue), then re-raises SIGTERM.
    assert await asyncio.to_thread(process.wait, 30) in (0, -signal.SIGTERM)
    assert len(completed) > 50  # the signal really landed under load

    engine = create_engine(StoreSettings(url=config["store"]["url"]))
    async with engine.connect() as conn:
        query = select(usage_records.c.client_request_id, usage_records.c.status)
        recorded = {row.client_request_id: row.status for row in await conn.execute(query)}
    await engine.dispose()
    missing = [rid for rid in completed if rid not in recorded]
    assert not missing, f"{len(missing)} completed requests have no usage record"
    assert all(recorded[rid] == "ok" for rid in completed)


async def test_a_repeated_client_request_id_keeps_every_record(
    start_gateway: GatewayFactory, tmp_path: Path
) -> None:
    """Clients may send one x-request-id twice (a retry, a fixed id): both requests cost money,
    so both are in the ledger, under ids of the gateway's, each with the client's id beside it."""
    async with (
        start_gateway() as url,
        openai.AsyncOpenAI(base_url=f"{url}/v1", api_key=MASTER_KEY, max_retries=0) as client,
    ):
        for _ in range(3):
            raw = await client.chat.completions.with_raw_response.create(
                model="fast",
                messages=[{"role": "user", "content": "same id"}],
                extra_headers={"x-request-id": "client-fixed-id"},
            )
            assert raw.headers["x-request-id"] == "client-fixed-id"  # echoed as sent
    engine = create_engine(StoreSettings(url=f"sqlite+aiosqlite:///{tmp_path}/pointsman.db"))
    async with engine.connect() as conn:
        query = select(usage_records.c.request_id, usage_records.c.client_request_id)
        rows = (await conn.execute(query)).all()
    await engine.dispose()
    assert [row.client_request_id for row in rows] == ["client-fixed-id"] * 3
    assert len({row.request_id for row in rows}) == 3
