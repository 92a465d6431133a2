"""Gateway overhead against a direct call to the same (simulated) upstream, in one run.

    python benchmarks/bench_gateway.py            # full run, about 2 minutes
    python benchmarks/bench_gateway.py --quick    # smaller samples, about 40 s

Reports requests/s (wrk, non-streaming and twenty-chunk streams), added latency p50/p99 at
concurrency 1, 10 and 50 (gateway minus direct, same client, interleaved rounds), streaming
time-to-first-byte, idle RSS and RSS growth after 100,000 requests, and time to ready.
Results are printed and written to ``benchmarks/results/gateway.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp
import yaml
from rich.console import Console
from rich.table import Table

from harness import (
    GATEWAY_CPU,
    LOAD_CPU,
    free_port,
    latencies,
    percentile,
    pin,
    python,
    rss_mb,
    run_wrk,
    spawn,
    wait_http,
    wrk_available,
)

KEY = "bench-master-key"
CHAT = {"model": "instant", "messages": [{"role": "user", "content": "Say hello in five words."}]}
STREAM = {**CHAT, "stream": True, "max_tokens": 20}
RESULTS = Path(__file__).parent / "results"


def body_for(target: str, payload: dict[str, Any]) -> bytes:
    data = dict(payload)
    if target == "direct":
        data["model"] = "sim-instant"
    return json.dumps(data).encode()


async def compare_latency(
    urls: dict[str, str], payload: dict[str, Any], concurrency: int, count: int, first_byte: bool
) -> dict[str, float]:
    """Interleave direct and gateway rounds so drift hits both alike."""
    samples: dict[str, list[float]] = {"direct": [], "gateway": []}
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {KEY}"}
    rounds = 5
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as session:
        for target in ("direct", "gateway"):  # warm both connection pools
            await latencies(
                session, urls[target], body_for(target, payload), headers, 200, concurrency
            )
        for _ in range(rounds):
            for target in ("direct", "gateway"):
                samples[target] += await latencies(
                    session,
                    urls[target],
                    body_for(target, payload),
                    headers,
                    count // rounds,
                    concurrency,
                    first_byte,
                )
    out: dict[str, float] = {}
    for q, name in ((0.5, "p50"), (0.99, "p99")):
        direct = percentile(samples["direct"], q) * 1000
        gateway = percentile(samples["gateway"], q) * 1000
        out[f"direct_{name}_ms"] = direct
        out[f"gateway_{name}_ms"] = gateway
        out[f"added_{name}_ms"] = gateway - direct
    return out


def throughput(urls: dict[str, str], payload: dict[str, Any], seconds: float) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for target in ("direct", "gateway"):
        result = run_wrk(urls[target], body_for(target, payload).decode(), KEY, 50, seconds)
        out[target] = result.__dict__
    out["ratio"] = out["gateway"]["rps"] / out["direct"]["rps"]
    return out


async def soak(gateway_url: str, requests: int, pid: int) -> dict[str, float]:
    """Drive ``requests`` non-streaming requests through the gateway; RSS before and after."""
    before = rss_mb(pid)
    sent = 0
    while sent < requests:
        batch = run_wrk(gateway_url, body_for("gateway", CHAT).decode(), KEY, 50, 5)
        sent += batch.requests
    await asyncio.sleep(1.0)
    after = rss_mb(pid)
    return {
        "requests": sent,
        "rss_before_mb": before,
        "rss_after_mb": after,
        "growth_pct": 100 * (after - before) / before,
    }


async def main(quick: bool) -> dict[str, Any]:
    pin(LOAD_CPU)
    sim_port, gw_port = free_port(), free_port()
    sim = spawn([python(), "-m", "pointsman", "simulate", "--port", str(sim_port)], LOAD_CPU)
    config = {
        "server": {"master_key": "env:BENCH_KEY"},
        "providers": {"sim": {"protocol": "openai", "base_url": f"http://127.0.0.1:{sim_port}/v1"}},
        "models": {"instant": [{"provider": "sim", "model": "sim-instant"}]},
        # the core pipeline (auth, routing, the attempt loop); bench_governance.py adds keys,
        # budgets and limits
        "governance": {"enabled": False},
    }
    with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as handle:
        yaml.safe_dump(config, handle)
    await wait_http(f"http://127.0.0.1:{sim_port}/v1/models")
    started = time.perf_counter()
    gateway = spawn(
        [python(), "-m", "pointsman", "serve", "--config", handle.name, "--port", str(gw_port)],
        GATEWAY_CPU,
        env={"BENCH_KEY": KEY},
    )
    results: dict[str, Any] = {
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores",
        "quick": quick,
    }
    try:
        await wait_http(f"http://127.0.0.1:{gw_port}/health/ready")
        results["ready_s"] = time.perf_counter() - started
        results["idle_rss_mb"] = rss_mb(gateway.pid)
        urls = {
            "direct": f"http://127.0.0.1:{sim_port}/v1/chat/completions",
            "gateway": f"http://127.0.0.1:{gw_port}/v1/chat/completions",
        }
        count = 2000 if quick else 10000
        results["latency"] = {
            f"c{c}": await compare_latency(urls, CHAT, c, count, False) for c in (1, 10, 50)
        }
        results["stream_ttfb_c1"] = await compare_latency(urls, STREAM, 1, count, True)
        if wrk_available():
            seconds = 5 if quick else 10
            results["throughput"] = throughput(urls, CHAT, seconds)
            results["stream_throughput"] = throughput(urls, STREAM, seconds)
            results["memory"] = await soak(
                urls["gateway"], 20_000 if quick else 100_000, gateway.pid
            )
        else:
            results["throughput"] = "wrk not installed (apt-get install wrk): skipped"
    finally:
        gateway.terminate()
        sim.terminate()
        gateway.wait()
        sim.wait()
        os.unlink(handle.name)
    return results


def report(results: dict[str, Any], console: Console) -> None:
    table = Table(title="Pointsman vs direct (simulated upstream, one gateway worker)")
    for column in ("measure", "direct", "via Pointsman", "added / ratio"):
        table.add_column(column, justify="right" if column != "measure" else "left")
    for name, row in results["latency"].items():
        for q in ("p50", "p99"):
            table.add_row(
                f"latency {q}, concurrency {name[1:]} (ms)",
                f"{row[f'direct_{q}_ms']:.3f}",
                f"{row[f'gateway_{q}_ms']:.3f}",
                f"+{row[f'added_{q}_ms']:.3f} ms",
            )
    ttfb = results["stream_ttfb_c1"]
    for q in ("p50", "p99"):
        table.add_row(
            f"stream TTFB {q}, concurrency 1 (ms)",
            f"{ttfb[f'direct_{q}_ms']:.3f}",
            f"{ttfb[f'gateway_{q}_ms']:.3f}",
            f"+{ttfb[f'added_{q}_ms']:.3f} ms",
        )
    for key, label in (
        ("throughput", "requests/s (c=50)"),
        ("stream_throughput", "20-chunk streams/s (c=50)"),
    ):
        value = results.get(key)
        if isinstance(value, dict):
            table.add_row(
                label,
                f"{value['direct']['rps']:,.0f}",
                f"{value['gateway']['rps']:,.0f}",
                f"x{value['ratio']:.2f}",
            )
    table.add_row("ready after start (s)", "", f"{results['ready_s']:.2f}", "")
    table.add_row("idle RSS (MB)", "", f"{results['idle_rss_mb']:.1f}", "")
    memory = results.get("memory")
    if isinstance(memory, dict):
        table.add_row(
            f"RSS after {memory['requests']:,} requests (MB)",
            "",
            f"{memory['rss_after_mb']:.1f}",
            f"{memory['growth_pct']:+.1f} %",
        )
    console.print(table)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="smaller samples (about 40 s)")
    args = parser.parse_args()
    outcome = asyncio.run(main(args.quick))
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "gateway.json").write_text(json.dumps(outcome, indent=2))
    report(outcome, Console())
