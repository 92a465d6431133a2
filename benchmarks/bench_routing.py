"""What routing adds: a tiered alias against a plain alias through the gateway, in one run, and
the router's per-decision cost in-process.

    python benchmarks/bench_routing.py            # about 1 minute
    python benchmarks/bench_routing.py --quick    # about 25 s

Through the gateway (one worker pinned to core 0, governance off, the simulated upstream's
instant model behind every alias, so both paths wait for the same upstream): ``plain`` is one
deployment under the default weighted policy; ``auto`` is a tiered alias whose classifier
scores every request (the shipped model) and picks one of two tiers. Reported: latency p50/p99
at concurrency 1 and 10 (interleaved rounds, same client) and the difference, and with wrk at 50
connections the gateway's CPU time per request for each alias (``/proc``; robust on a shared
machine, unlike throughput). The prompt is a 290-character question, the median length of the
RouteLLM prompts.

In-process: :meth:`Router.resolve` timed alone per request (thread CPU time) for the plain
alias and for the tiered alias over real prompts from ``../shared/data/routing/routellm`` when
present (else a built-in set). Results: ``benchmarks/results/routing.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp
import msgspec
import yaml
from rich.console import Console
from rich.table import Table

from harness import (
    GATEWAY_CPU,
    LOAD_CPU,
    cpu_seconds,
    free_port,
    latencies,
    percentile,
    pin,
    python,
    run_wrk,
    spawn,
    wait_http,
    wrk_available,
)
from pointsman.config import parse_config
from pointsman.core.pipeline import RequestContext
from pointsman.core.types import ChatRequest
from pointsman.providers.registry import build_provider
from pointsman.routing.router import Router

KEY = "bench-master-key"
RESULTS = Path(__file__).parent / "results"
DATA = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "routing" / "routellm"
PROMPT = (
    "A farmer has 17 sheep and all but 9 run away. He then buys three times as many sheep as he "
    "has left and sells a quarter of the flock at the market on Saturday. How many sheep does he "
    "have now, and how many did he sell? Explain each step of your reasoning briefly, please."
)
BUILT_IN = [
    PROMPT,
    "What is the capital of Australia?",
    "Which of the following is a prime number? A. 21 B. 27 C. 29 D. 33",
    "Write a haiku about railway points.",
    "Prove that the sum of two even integers is even.",
]


def config(sim_port: int) -> dict[str, Any]:
    sim = {"protocol": "openai", "base_url": f"http://127.0.0.1:{sim_port}/v1"}
    return {
        "server": {"master_key": "env:BENCH_KEY"},
        "providers": {"sim": sim, "sim2": dict(sim)},
        "models": {
            "plain": [{"provider": "sim", "model": "sim-instant"}],
            "cheap": [{"provider": "sim", "model": "sim-instant"}],
            "strong": [{"provider": "sim2", "model": "sim-instant"}],
            "auto": {
                "policy": {
                    "kind": "tiered",
                    "cheap": "cheap",
                    "strong": "strong",
                    "strong_share": 0.3,
                }
            },
        },
        "governance": {"enabled": False},
    }


def body(alias: str) -> bytes:
    return json.dumps(
        {"model": alias, "max_tokens": 16, "messages": [{"role": "user", "content": PROMPT}]}
    ).encode()


ROUNDS = 10


async def compare_latency(url: str, concurrency: int, count: int) -> dict[str, float]:
    """Interleaved rounds of the plain and the tiered alias, so drift hits both alike; the
    added latency is the median over rounds of (tiered - plain), robust to a noisy machine."""
    samples: dict[str, list[float]] = {"plain": [], "auto": []}
    deltas: dict[str, list[float]] = {"p50": [], "p99": []}
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {KEY}"}
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as session:
        for alias in samples:  # warm up
            await latencies(session, url, body(alias), headers, 200, concurrency)
        for _ in range(ROUNDS):
            got = {
                alias: await latencies(
                    session, url, body(alias), headers, count // ROUNDS, concurrency
                )
                for alias in samples
            }
            for alias, values in got.items():
                samples[alias] += values
            for q, name in ((0.5, "p50"), (0.99, "p99")):
                deltas[name].append(percentile(got["auto"], q) - percentile(got["plain"], q))
    out: dict[str, float] = {}
    for q, name in ((0.5, "p50"), (0.99, "p99")):
        out[f"plain_{name}_ms"] = percentile(samples["plain"], q) * 1000
        out[f"tiered_{name}_ms"] = percentile(samples["auto"], q) * 1000
        out[f"added_{name}_ms"] = percentile(deltas[name], 0.5) * 1000
    return out


async def pipeline_cost(count: int) -> dict[str, Any]:
    """CPU and wall microseconds per request through the whole pipeline, in one process
    against an in-process simulator (no HTTP front door, no client: much less noise)."""
    from pointsman.gateway import Runtime
    from pointsman.simulator.server import SimServer

    sim = SimServer()
    await sim.start("127.0.0.1", 0)
    runtime = Runtime(parse_config(config(sim.port), env={"BENCH_KEY": KEY}))
    gateway = runtime.gateway
    await gateway.start()
    headers = {"authorization": f"Bearer {KEY}"}

    async def one(alias: str) -> None:
        raw = json.loads(body(alias))
        chat = msgspec.convert(raw, ChatRequest)
        ctx = RequestContext("r", "chat", raw, headers, chat=chat, alias=alias)
        await gateway.pipeline.run(ctx)
        await gateway.pipeline.complete(ctx)

    runs: dict[str, list[tuple[float, float]]] = {"plain": [], "auto": []}
    try:
        for alias in runs:
            for _ in range(300):
                await one(alias)
        for _ in range(6):
            for alias, out in runs.items():
                cpu, wall = time.thread_time(), time.perf_counter()
                for _ in range(count // 6):
                    await one(alias)
                n = count // 6
                out.append(
                    ((time.thread_time() - cpu) / n * 1e6, (time.perf_counter() - wall) / n * 1e6)
                )
    finally:
        await gateway.close()
        await sim.stop()
    result: dict[str, Any] = {}
    for alias, out in runs.items():
        result[alias] = {
            "cpu_us": round(percentile([c for c, _ in out], 0.5), 1),
            "wall_us": round(percentile([w for _, w in out], 0.5), 1),
        }
    result["added_cpu_us"] = round(result["auto"]["cpu_us"] - result["plain"]["cpu_us"], 1)
    result["added_wall_us"] = round(result["auto"]["wall_us"] - result["plain"]["wall_us"], 1)
    return result


def cpu_per_request(url: str, pid: int, seconds: float) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for alias in ("plain", "auto", "plain", "auto"):  # twice each, interleaved; keep the lower
        run_wrk(url, body(alias).decode(), KEY, 50, 1)  # warm-up
        before = cpu_seconds(pid)
        result = run_wrk(url, body(alias).decode(), KEY, 50, seconds)
        cpu_us = 1e6 * (cpu_seconds(pid) - before) / max(1, result.requests)
        row = {"rps": result.rps, "errors": result.errors, "cpu_us_per_request": cpu_us}
        if alias not in out or cpu_us < out[alias]["cpu_us_per_request"]:
            out[alias] = row
    out["added_cpu_us_per_request"] = (
        out["auto"]["cpu_us_per_request"] - out["plain"]["cpu_us_per_request"]
    )
    return out


def real_prompts(count: int) -> list[str]:
    if not DATA.is_dir():
        return BUILT_IN * (count // len(BUILT_IN) + 1)
    from pointsman.routing.evaluation.data import load_outcomes

    prompts: list[str] = []
    for data in (DATA / "mmlu", DATA / "gsm8k" / "gsm8k_responses.csv", DATA / "mt_bench"):
        prompts += load_outcomes(
            data, "mistralai/Mixtral-8x7B-Instruct-v0.1", "gpt-4-1106-preview"
        ).prompts
    random.Random(0).shuffle(prompts)
    return prompts[:count]


def in_process(count: int) -> dict[str, Any]:
    """CPU microseconds per :meth:`Router.resolve`, per alias."""
    cfg = parse_config(config(9), env={"BENCH_KEY": KEY})
    providers = {name: build_provider(name, spec) for name, spec in cfg.providers.items()}
    router = Router(cfg, providers)
    prompts = real_prompts(count)
    out: dict[str, Any] = {
        "prompts": len(prompts),
        "source": "routellm" if DATA.is_dir() else "built-in",
    }
    for alias in ("plain", "auto"):
        contexts = []
        for prompt in prompts:
            raw = {"model": alias, "messages": [{"role": "user", "content": prompt}]}
            chat = msgspec.convert(raw, ChatRequest)
            contexts.append(RequestContext("r", "chat", raw, {}, chat=chat, alias=alias))
        for ctx in contexts[:100]:  # warm
            router.resolve(ctx, alias)
            ctx.notes.clear()
        timings = []
        for ctx in contexts:
            started = time.thread_time_ns()
            router.resolve(ctx, alias)
            timings.append((time.thread_time_ns() - started) / 1000)
        tiers = [ctx.notes["routing"].hops[0].pick for ctx in contexts]
        out[alias] = {
            "p50_us": round(percentile(timings, 0.5), 1),
            "p90_us": round(percentile(timings, 0.9), 1),
            "p99_us": round(percentile(timings, 0.99), 1),
            "max_us": round(max(timings), 1),
        }
        if alias == "auto":
            strong = sum(1 for pick in tiers if pick is not None and pick.alias == "strong")
            out[alias]["strong_share"] = round(strong / len(contexts), 3)
    return out


async def main(quick: bool) -> dict[str, Any]:
    results: dict[str, Any] = {
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores",
        "python": platform.python_version(),
        "quick": quick,
        "in_process": in_process(1000 if quick else 5000),
        "pipeline": await pipeline_cost(2000 if quick else 6000),
    }
    pin(LOAD_CPU)
    sim_port, gw_port = free_port(), free_port()
    sim = spawn([python(), "-m", "pointsman", "simulate", "--port", str(sim_port)], LOAD_CPU)
    with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as handle:
        yaml.safe_dump(config(sim_port), handle)
    await wait_http(f"http://127.0.0.1:{sim_port}/v1/models")
    gateway = spawn(
        [python(), "-m", "pointsman", "serve", "--config", handle.name, "--port", str(gw_port)],
        GATEWAY_CPU,
        env={"BENCH_KEY": KEY},
    )
    try:
        await wait_http(f"http://127.0.0.1:{gw_port}/health/ready")
        url = f"http://127.0.0.1:{gw_port}/v1/chat/completions"
        count = 2000 if quick else 6000
        results["latency"] = {f"c{c}": await compare_latency(url, c, count) for c in (1, 10)}
        if wrk_available():
            results["cpu"] = cpu_per_request(url, gateway.pid, 3 if quick else 6)
        else:
            results["cpu"] = "wrk not installed (apt-get install wrk): skipped"
    finally:
        gateway.terminate()
        sim.terminate()
        gateway.wait()
        sim.wait()
        os.unlink(handle.name)
    return results


def report(results: dict[str, Any], console: Console) -> None:
    table = Table(title="Routing cost: tiered alias vs plain alias (one gateway worker)")
    for column in ("measure", "plain", "tiered", "added"):
        table.add_column(column, justify="right" if column != "measure" else "left")
    for name, row in results["latency"].items():
        for q in ("p50", "p99"):
            table.add_row(
                f"latency {q}, concurrency {name[1:]} (ms)",
                f"{row[f'plain_{q}_ms']:.3f}",
                f"{row[f'tiered_{q}_ms']:.3f}",
                f"{row[f'added_{q}_ms']:+.3f} ms",
            )
    cpu = results["cpu"]
    if isinstance(cpu, dict):
        table.add_row(
            "gateway CPU per request (us), wrk c=50",
            f"{cpu['plain']['cpu_us_per_request']:.0f}",
            f"{cpu['auto']['cpu_us_per_request']:.0f}",
            f"{cpu['added_cpu_us_per_request']:+.0f} us",
        )
    pipe = results["pipeline"]
    for key, label in (("cpu_us", "CPU"), ("wall_us", "wall")):
        table.add_row(
            f"whole pipeline in-process, {label} per request (us)",
            f"{pipe['plain'][key]:.1f}",
            f"{pipe['auto'][key]:.1f}",
            f"{pipe['added_' + key]:+.1f} us",
        )
    inside = results["in_process"]
    for q in ("p50", "p90", "p99"):
        table.add_row(
            f"Router.resolve {q}, CPU (us), {inside['prompts']} {inside['source']} prompts",
            f"{inside['plain'][f'{q}_us']:.1f}",
            f"{inside['auto'][f'{q}_us']:.1f}",
            "",
        )
    table.add_row(
        "tiered: share of strong calls (target 0.30 + band 0.05)",
        "",
        f"{inside['auto']['strong_share']:.3f}",
        "",
    )
    console.print(table)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    outcome = asyncio.run(main(args.quick))
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "routing.json").write_text(json.dumps(outcome, indent=2))
    report(outcome, Console())
