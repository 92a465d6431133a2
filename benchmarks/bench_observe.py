"""Throughput with metrics and request logs on, against observability off, in one run.

    python benchmarks/bench_observe.py [--seconds 8] [--rounds 2]

Three gateways in turn (one worker each, pinned to core 0), same simulated upstream, same wrk
load (50 connections, small non-streamed chat requests to a zero-latency model): observe off
(no observe stage); metrics only (the stage, ``/metrics`` scraped once a second, the dashboard
summary built once a second, no request log); and everything on (the same plus one JSON
request log line per request, written to the process's stderr). Governance is off in all
three so the difference is observability's alone. The rounds alternate the variants, so
drifting load from other processes on the machine hits them alike.

On a shared machine requests/s swing with what else runs; CPU time per request of the gateway
process (``harness.cpu_seconds``) does not, and its inverse is what one dedicated core would
serve. Results: ``benchmarks/results/observe.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import statistics
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
BODY = json.dumps(
    {"model": "instant", "max_tokens": 16, "messages": [{"role": "user", "content": "hi"}]}
)
VARIANTS = ("off", "metrics", "on")


async def watch(url: str, stop: asyncio.Event) -> int:
    """Scrape /metrics and read the dashboard summary once a second, as Prometheus and one
    open dashboard would. Returns the number of polls."""
    headers = {"Authorization": f"Bearer {MASTER}"}
    polls = 0
    async with aiohttp.ClientSession() as session:
        while not stop.is_set():
            for path in ("/metrics", "/ui/api/summary"):
                async with session.get(f"{url}{path}", headers=headers) as response:
                    await response.read()
                    assert response.status == 200, path
            polls += 1
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 1.0)
    return polls


async def run_variant(name: str, sim_port: int, workdir: Path, seconds: float) -> dict[str, Any]:
    config: dict[str, Any] = {
        "server": {"master_key": "env:BENCH_KEY"},
        "providers": {"sim": {"protocol": "openai", "base_url": f"http://127.0.0.1:{sim_port}/v1"}},
        "models": {"instant": [{"provider": "sim", "model": "sim-instant"}]},
        "governance": {"enabled": False},
        "store": {"url": f"sqlite+aiosqlite:///{workdir}/{name}.db"},
        "observe": {"enabled": name != "off"},
        "logging": {"format": "json", "level": "info", "requests": name == "on"},
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
        await asyncio.to_thread(run_wrk, f"{url}/v1/chat/completions", BODY, MASTER, 50, 2)
        stop = asyncio.Event()
        watcher = asyncio.create_task(watch(url, stop)) if name != "off" else None
        cpu_before = cpu_seconds(gateway.pid)
        result = await asyncio.to_thread(
            run_wrk, f"{url}/v1/chat/completions", BODY, MASTER, 50, seconds
        )
        cpu = cpu_seconds(gateway.pid) - cpu_before
        stop.set()
        polls = await watcher if watcher is not None else 0
    finally:
        gateway.terminate()
        gateway.wait()
    return {
        **result.__dict__,
        "cpu_us_per_request": 1e6 * cpu / max(1, result.requests),
        "polls": polls,
    }


async def main(seconds: float, rounds: int) -> dict[str, Any]:
    pin(LOAD_CPU)
    sim_port = free_port()
    sim = spawn([python(), "-m", "pointsman", "simulate", "--port", str(sim_port)], LOAD_CPU)
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name in VARIANTS}
    try:
        await wait_http(f"http://127.0.0.1:{sim_port}/v1/models")
        with tempfile.TemporaryDirectory() as workdir:
            for _ in range(rounds):
                for name in VARIANTS:
                    runs[name].append(await run_variant(name, sim_port, Path(workdir), seconds))
    finally:
        sim.terminate()
        sim.wait()
    results: dict[str, Any] = {}
    for name, rows in runs.items():
        results[name] = {
            "rps": statistics.median(r["rps"] for r in rows),
            "p50_ms": statistics.median(r["p50_ms"] for r in rows),
            "p99_ms": statistics.median(r["p99_ms"] for r in rows),
            "errors": sum(r["errors"] for r in rows),
            "requests": sum(r["requests"] for r in rows),
            "cpu_us_per_request": statistics.median(r["cpu_us_per_request"] for r in rows),
            "runs": rows,
        }
    base = results["off"]
    for name in ("metrics", "on"):
        row = results[name]
        row["ratio_to_off"] = row["rps"] / base["rps"]
        row["cpu_ratio_to_off"] = base["cpu_us_per_request"] / row["cpu_us_per_request"]
        row["cpu_us_added"] = row["cpu_us_per_request"] - base["cpu_us_per_request"]
    return results


def report(results: dict[str, Any]) -> None:
    table = Table(title="Observability cost (one worker, 50 connections, simulated upstream)")
    columns = (
        "observe",
        "requests/s",
        "p50 ms",
        "p99 ms",
        "errors",
        "vs off",
        "CPU µs/req",
        "added µs",
        "capacity vs off",
    )
    for column in columns:
        table.add_column(column, justify="left" if column == "observe" else "right")
    for name, row in results.items():
        table.add_row(
            name,
            f"{row['rps']:,.0f}",
            f"{row['p50_ms']:.2f}",
            f"{row['p99_ms']:.2f}",
            str(row["errors"]),
            f"x{row['ratio_to_off']:.3f}" if "ratio_to_off" in row else "",
            f"{row['cpu_us_per_request']:.1f}",
            f"{row['cpu_us_added']:+.1f}" if "cpu_us_added" in row else "",
            f"x{row['cpu_ratio_to_off']:.3f}" if "cpu_ratio_to_off" in row else "",
        )
    Console().print(table)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    outcome = asyncio.run(main(args.seconds, args.rounds))
    results_dir = Path(__file__).parent / "results"
    results_dir.mkdir(exist_ok=True)
    (results_dir / "observe.json").write_text(json.dumps(outcome, indent=2))
    report(outcome)
