"""Throughput with keys, budgets and rate limits on, against governance off, in one run.

    python benchmarks/bench_governance.py [--seconds 8]

Three gateways in turn (one worker each, pinned to core 0), same simulated upstream, same wrk
load (50 connections): governance off (master key); on with in-process state; on with Redis
state (skipped, and said so, when Redis is not on 127.0.0.1:6379). With governance on, requests
use a virtual key in a team that has a hard budget and RPM/TPM limits far above the load, so
every request pays for the key lookup, the limit check, the budget reservation and settlement,
and a usage record. Results: ``benchmarks/results/governance.json``.

Two yardsticks are printed. The issue's: with governance on, the core throughput target (2,000
requests/s on one worker) still holds within 25 %, i.e. at least 1,500 requests/s. And the
stricter one: throughput (and CPU per request, steadier on a shared machine) against governance
off in the same run.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import secrets
import socket
import tempfile
from pathlib import Path
from typing import Any

import aiohttp
import yaml
from rich.console import Console
from rich.table import Table

from harness import (
    GATEWAY_CPU,
    LOAD_CPU,
    cpu_seconds,
    free_port,
    pin,
    python,
    run_wrk,
    spawn,
    wait_http,
)

MASTER = "bench-master-key"
CORE_TARGET = 2000  # requests/s on one worker (the core gateway's target)
WITHIN = 0.25
BODY = json.dumps(
    {"model": "instant", "max_tokens": 16, "messages": [{"role": "user", "content": "hi"}]}
)


def redis_up() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=0.5):
            return True
    except OSError:
        return False


async def admin(url: str, method: str, path: str, body: Any = None) -> Any:
    headers = {"Authorization": f"Bearer {MASTER}"}
    async with (
        aiohttp.ClientSession() as session,
        session.request(method, f"{url}/admin/v1{path}", json=body, headers=headers) as r,
    ):
        r.raise_for_status()
        return await r.json()


async def provision(url: str) -> str:
    org = await admin(url, "POST", "/orgs", {"name": "bench"})
    team = await admin(url, "POST", "/teams", {"org_id": org["id"], "name": "load"})
    key = await admin(url, "POST", "/keys", {"name": "load", "team_id": team["id"]})
    await admin(
        url, "PUT", "/budgets", {"scope_kind": "team", "scope_id": team["id"], "limit_usd": 1e6}
    )
    limits = {"scope_kind": "team", "scope_id": team["id"], "rpm": 10**8, "tpm": 10**10}
    await admin(url, "PUT", "/limits", limits)
    await admin(
        url, "PUT", "/limits", {**limits, "scope_kind": "key", "scope_id": key["key"]["id"]}
    )
    return str(key["secret"])


async def run_variant(name: str, sim_port: int, workdir: Path, seconds: float) -> dict[str, Any]:
    config: dict[str, Any] = {
        "server": {"master_key": "env:BENCH_KEY"},
        "providers": {"sim": {"protocol": "openai", "base_url": f"http://127.0.0.1:{sim_port}/v1"}},
        "models": {"instant": [{"provider": "sim", "model": "sim-instant"}]},
        "store": {"url": f"sqlite+aiosqlite:///{workdir}/{name}.db"},
    }
    if name == "off":
        config["governance"] = {"enabled": False}
    if name == "redis":
        config["state"] = {
            "url": "redis://127.0.0.1:6379/0",
            "prefix": f"bench-{secrets.token_hex(4)}:",
        }
    path = workdir / f"{name}.yaml"
    path.write_text(yaml.safe_dump(config))
    port = free_port()
    gateway = spawn(
        [python(), "-m", "pointsman", "serve", "-c", str(path), "--port", str(port)],
        GATEWAY_CPU,
        env={"BENCH_KEY": MASTER},
    )
    url = f"http://127.0.0.1:{port}"
    try:
        await wait_http(f"{url}/health/ready")
        key = MASTER if name == "off" else await provision(url)
        run_wrk(f"{url}/v1/chat/completions", BODY, key, 50, 2)  # warm-up
        cpu_before = cpu_seconds(gateway.pid)
        result = run_wrk(f"{url}/v1/chat/completions", BODY, key, 50, seconds)
        cpu = cpu_seconds(gateway.pid) - cpu_before
    finally:
        gateway.terminate()
        gateway.wait()
    return {**result.__dict__, "cpu_us_per_request": 1e6 * cpu / max(1, result.requests)}


async def main(seconds: float) -> dict[str, Any]:
    pin(LOAD_CPU)
    sim_port = free_port()
    sim = spawn([python(), "-m", "pointsman", "simulate", "--port", str(sim_port)], LOAD_CPU)
    results: dict[str, Any] = {}
    try:
        await wait_http(f"http://127.0.0.1:{sim_port}/v1/models")
        with tempfile.TemporaryDirectory() as workdir:
            for name in ("off", "memory", "redis"):
                if name == "redis" and not redis_up():
                    results[name] = "skipped: Redis is not running on 127.0.0.1:6379"
                    continue
                results[name] = await run_variant(name, sim_port, Path(workdir), seconds)
    finally:
        sim.terminate()
        sim.wait()
    base = results["off"]
    for name in ("memory", "redis"):
        row = results[name]
        if isinstance(row, dict):
            row["ratio_to_off"] = row["rps"] / base["rps"]
            # what one dedicated core would serve, relative to governance off
            row["cpu_ratio_to_off"] = base["cpu_us_per_request"] / row["cpu_us_per_request"]
            row["core_target_rps"] = CORE_TARGET
            row["meets_core_target_within_25pct"] = row["rps"] >= CORE_TARGET * (1 - WITHIN)
    return results


def report(results: dict[str, Any]) -> None:
    table = Table(title="Governance cost (one worker, 50 connections, simulated upstream)")
    columns = (
        "governance",
        "requests/s",
        "p50 ms",
        "p99 ms",
        "errors",
        "vs off",
        "CPU µs/req",
        "capacity vs off",
        "vs 2,000 target",
    )
    for column in columns:
        table.add_column(column, justify="left" if column == "governance" else "right")
    for name, row in results.items():
        if not isinstance(row, dict):
            table.add_row(name, row, *[""] * 7)
            continue
        ratio = f"x{row['ratio_to_off']:.2f}" if "ratio_to_off" in row else ""
        capacity = f"x{row['cpu_ratio_to_off']:.2f}" if "cpu_ratio_to_off" in row else ""
        target = ""
        if "core_target_rps" in row:
            verdict = "holds" if row["meets_core_target_within_25pct"] else "misses"
            target = f"x{row['rps'] / CORE_TARGET:.2f} ({verdict})"
        table.add_row(
            name,
            f"{row['rps']:,.0f}",
            f"{row['p50_ms']:.2f}",
            f"{row['p99_ms']:.2f}",
            str(row["errors"]),
            ratio,
            f"{row['cpu_us_per_request']:.0f}",
            capacity,
            target,
        )
    Console().print(table)
    Console().print(
        f"The core target holds within {WITHIN:.0%} when governed requests/s >= "
        f"{CORE_TARGET * (1 - WITHIN):,.0f} ({CORE_TARGET:,} x {1 - WITHIN:.2f})."
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=8.0)
    args = parser.parse_args()
    outcome = asyncio.run(main(args.seconds))
    results_dir = Path(__file__).parent / "results"
    results_dir.mkdir(exist_ok=True)
    (results_dir / "governance.json").write_text(json.dumps(outcome, indent=2))
    report(outcome)
