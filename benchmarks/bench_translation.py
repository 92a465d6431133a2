"""What protocol translation costs, against the OpenAI pass-through path, in one run.

    python benchmarks/bench_translation.py            # full run, about 3 minutes
    python benchmarks/bench_translation.py --quick    # smaller samples, about 1 minute

Outbound: the same OpenAI-format request through the gateway to an ``openai``-, an
``anthropic``- and a ``gemini``-protocol deployment (one simulated upstream speaking all three),
each compared with a direct call to the simulator in that protocol, so the simulator's own
rendering cost cancels out: translation cost = (gateway - direct) for the protocol minus
(gateway - direct) for OpenAI pass-through. Inbound: ``POST /v1/messages`` against
``/v1/chat/completions``, both served by the same OpenAI-protocol deployment.

Latency at concurrency 1 for whole answers and 20-token streams (to the last byte): targets take
turns request by request, and the cost is the median over turns of the paired difference, so
load from elsewhere on the machine cancels out. Also the gateway's CPU time per request, and
the pure translations timed in-process.
Results go to ``benchmarks/results/translation.json``.
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
    cpu_seconds,
    free_port,
    percentile,
    pin,
    python,
    spawn,
    wait_http,
)

KEY = "bench-master-key"
TOKENS = 20  # every answer is 20 tokens long, in every protocol
PROTOCOLS = ("openai", "anthropic", "gemini")
USER = [{"role": "user", "content": "Say hello in five words."}]
RESULTS = Path(__file__).parent / "results"

Target = tuple[str, bytes, dict[str, str]]  # url, body, headers


def targets(sim: str, gateway: str, stream: bool) -> dict[str, Target]:
    gw_headers = {"Content-Type": "application/json", "Authorization": f"Bearer {KEY}"}
    chat = {"messages": USER, "max_tokens": TOKENS, "stream": stream}
    messages = {"messages": USER, "max_tokens": TOKENS, "stream": stream}
    contents = {
        "contents": [{"role": "user", "parts": [{"text": USER[0]["content"]}]}],
        "generationConfig": {"maxOutputTokens": TOKENS},
    }
    gemini_method = "streamGenerateContent?alt=sse" if stream else "generateContent"
    anthropic_headers = {"Content-Type": "application/json", "anthropic-version": "2023-06-01"}
    out: dict[str, Target] = {
        "direct/openai": (
            f"{sim}/v1/chat/completions",
            json.dumps({**chat, "model": "sim-instant"}).encode(),
            gw_headers,
        ),
        "direct/anthropic": (
            f"{sim}/v1/messages",
            json.dumps({**messages, "model": "sim-instant"}).encode(),
            anthropic_headers,
        ),
        "direct/gemini": (
            f"{sim}/v1beta/models/sim-instant:{gemini_method}",
            json.dumps(contents).encode(),
            {"Content-Type": "application/json"},
        ),
        "inbound/messages": (
            f"{gateway}/v1/messages",
            json.dumps({**messages, "model": "openai"}).encode(),
            {**anthropic_headers, "x-api-key": KEY},
        ),
    }
    for protocol in PROTOCOLS:
        body = json.dumps({**chat, "model": protocol}).encode()
        out[f"gateway/{protocol}"] = (f"{gateway}/v1/chat/completions", body, gw_headers)
    return out


async def one(session: aiohttp.ClientSession, target: Target) -> float:
    url, body, headers = target
    started = time.perf_counter()
    async with session.post(url, data=body, headers=headers) as response:
        if response.status != 200:
            raise RuntimeError(f"{url}: HTTP {response.status}: {await response.text()}")
        await response.read()
    return time.perf_counter() - started


async def measure(
    session: aiohttp.ClientSession, named: dict[str, Target], count: int, gateway_pid: int
) -> dict[str, dict[str, Any]]:
    """p50/p99 latency (ms) and gateway CPU per request (µs) of each target.

    Latency: the targets take turns request by request, so a burst of load from elsewhere on
    the machine hits every target alike. CPU: batches per target (the kernel counts CPU time in
    10 ms ticks), in interleaved rounds.
    """
    samples: dict[str, list[float]] = {name: [] for name in named}
    for target in named.values():  # warm every connection pool
        for _ in range(50):
            await one(session, target)
    for _ in range(count):
        for name, target in named.items():
            samples[name].append(await one(session, target))
    cpu: dict[str, float] = dict.fromkeys(named, 0.0)
    batch, rounds = max(count // 5, 100), 5
    for _ in range(rounds):
        for name, target in named.items():
            before = cpu_seconds(gateway_pid)
            for _ in range(batch):
                await one(session, target)
            cpu[name] += cpu_seconds(gateway_pid) - before
    return {
        name: {
            "p50_ms": percentile(values, 0.5) * 1000,
            "p99_ms": percentile(values, 0.99) * 1000,
            "gateway_cpu_us": 1e6 * cpu[name] / (batch * rounds),
            "samples_ms": [round(v * 1000, 4) for v in values],  # in turn order, for pairing
        }
        for name, values in samples.items()
    }


def paired_median(stats: dict[str, Any], plus: list[str], minus: list[str]) -> float:
    """The median over turns of (sum of ``plus`` latencies - sum of ``minus`` latencies): the
    targets of one turn ran back to back, so load from elsewhere cancels out of each difference
    (the difference of two p50s keeps it)."""
    turns = zip(*(stats[name]["samples_ms"] for name in plus + minus), strict=True)
    differences = [sum(turn[: len(plus)]) - sum(turn[len(plus) :]) for turn in turns]
    return percentile(differences, 0.5)


def costs(stats: dict[str, Any]) -> dict[str, dict[str, float]]:
    """Translation cost of each path over the OpenAI pass-through path."""
    out = {}
    for protocol in ("anthropic", "gemini"):
        out[f"outbound {protocol}"] = {
            "p50_ms": paired_median(
                stats,
                [f"gateway/{protocol}", "direct/openai"],
                ["gateway/openai", f"direct/{protocol}"],
            ),
            "gateway_cpu_us": stats[f"gateway/{protocol}"]["gateway_cpu_us"]
            - stats["gateway/openai"]["gateway_cpu_us"],
        }
    out["inbound /v1/messages"] = {
        "p50_ms": paired_median(stats, ["inbound/messages"], ["gateway/openai"]),
        "gateway_cpu_us": stats["inbound/messages"]["gateway_cpu_us"]
        - stats["gateway/openai"]["gateway_cpu_us"],
    }
    return out


def pure_costs(repeat: int = 3000) -> dict[str, float]:
    """CPU microseconds of the pure translations alone for one request (20-token answers), in
    this process: a floor for the figures above that no noise on the machine can blur."""
    from pointsman.core.types import ChatRequest
    from pointsman.providers.anthropic_request import AnthropicOptions, to_anthropic
    from pointsman.providers.anthropic_response import to_completion as from_anthropic
    from pointsman.providers.anthropic_stream import AnthropicStreamTranslator
    from pointsman.providers.gemini_request import GeminiOptions, to_gemini
    from pointsman.providers.gemini_response import to_completion as from_gemini
    from pointsman.providers.gemini_stream import GeminiStreamTranslator
    from pointsman.providers.translated import ChunkWriter
    from pointsman.server.anthropic_inbound import to_canonical
    from pointsman.server.anthropic_outbound import AnthropicFramer, to_message
    from pointsman.server.wire import validate

    words = [f" word{i}" for i in range(TOKENS)]
    body = {"model": "m", "messages": USER, "max_tokens": TOKENS}
    message = json.dumps(
        {
            "id": "msg_1",
            "model": "m",
            "stop_reason": "end_turn",
            "content": [{"type": "text", "text": "".join(words)}],
            "usage": {"input_tokens": 9, "output_tokens": TOKENS},
        }
    ).encode()
    gemini = json.dumps(
        {
            "candidates": [
                {"content": {"parts": [{"text": "".join(words)}]}, "finishReason": "STOP"}
            ],
            "usageMetadata": {"promptTokenCount": 9, "candidatesTokenCount": TOKENS},
        }
    ).encode()
    anthropic_events = [(b"message_start", b'{"type":"message_start","message":{"id":"m"}}')] + [
        (
            b"content_block_delta",
            json.dumps(
                {
                    "type": "content_block_delta",
                    "index": 0,
                    "delta": {"type": "text_delta", "text": w},
                }
            ).encode(),
        )
        for w in words
    ]
    gemini_events = [
        json.dumps({"candidates": [{"content": {"parts": [{"text": w}]}}]}).encode() for w in words
    ]
    writer = ChunkWriter("chatcmpl-1", 1, "m")
    chunks = [writer.delta({"content": w}) for w in words] + [writer.finish("stop")]

    def outbound_anthropic() -> None:
        json.dumps(to_anthropic(body, "m", AnthropicOptions(), False).body)
        from_anthropic(message, "d", 1)

    def outbound_gemini() -> None:
        json.dumps(to_gemini(body, GeminiOptions()))
        from_gemini(gemini, "d", 1, "r")

    def inbound() -> None:
        validate(to_canonical({**body, "model": "alias"}), ChatRequest)
        completion, usage, _ = from_anthropic(message, "d", 1)
        to_message(completion, usage, [])

    def stream_anthropic() -> None:
        translator = AnthropicStreamTranslator("c", 1, "m", "d", include_usage=False)
        for event, data in anthropic_events:
            translator.feed(event, data)

    def stream_gemini() -> None:
        translator = GeminiStreamTranslator("c", 1, "m", "d", include_usage=False)
        for data in gemini_events:
            translator.feed(b"", data)

    def stream_inbound() -> None:
        framer = AnthropicFramer("msg_1", 9, [])
        for chunk in chunks:
            framer.batch([chunk])

    cases = {
        "outbound anthropic (whole)": outbound_anthropic,
        "outbound gemini (whole)": outbound_gemini,
        "inbound /v1/messages (whole)": inbound,
        "outbound anthropic (20-token stream)": stream_anthropic,
        "outbound gemini (20-token stream)": stream_gemini,
        "inbound /v1/messages (20-token stream)": stream_inbound,
    }
    out = {}
    for name, case in cases.items():
        started = time.process_time()
        for _ in range(repeat):
            case()
        out[name] = 1e6 * (time.process_time() - started) / repeat
    return out


async def main(quick: bool) -> dict[str, Any]:
    pin(LOAD_CPU)
    sim_port, gw_port = free_port(), free_port()
    sim = spawn([python(), "-m", "pointsman", "simulate", "--port", str(sim_port)], LOAD_CPU)
    base = f"http://127.0.0.1:{sim_port}"
    config = {
        "server": {"master_key": "env:BENCH_KEY"},
        "providers": {
            "openai": {"protocol": "openai", "base_url": f"{base}/v1"},
            "anthropic": {"protocol": "anthropic", "base_url": f"{base}/v1"},
            "gemini": {"protocol": "gemini", "base_url": f"{base}/v1beta"},
        },
        "models": {p: [{"provider": p, "model": "sim-instant"}] for p in PROTOCOLS},
        "governance": {"enabled": False},
        "reliability": {"health_check": {"enabled": False}},
    }
    with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as handle:
        yaml.safe_dump(config, handle)
    await wait_http(f"{base}/v1/models")
    gateway = spawn(
        [python(), "-m", "pointsman", "serve", "--config", handle.name, "--port", str(gw_port)],
        GATEWAY_CPU,
        env={"BENCH_KEY": KEY},
    )
    results: dict[str, Any] = {
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores",
        "quick": quick,
        "tokens_per_answer": TOKENS,
    }
    count = 1000 if quick else 4000
    results["pure_us"] = pure_costs()
    try:
        await wait_http(f"http://127.0.0.1:{gw_port}/health/ready")
        gateway_url = f"http://127.0.0.1:{gw_port}"
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:
            for mode, stream in (("whole", False), ("stream", True)):
                named = targets(base, gateway_url, stream)
                stats = await measure(session, named, count, gateway.pid)
                translation = costs(stats)
                for row in stats.values():
                    del row["samples_ms"]
                results[mode] = {"targets": stats, "translation": translation}
    finally:
        gateway.terminate()
        sim.terminate()
        gateway.wait()
        sim.wait()
        os.unlink(handle.name)
    return results


def report(results: dict[str, Any], console: Console) -> None:
    pure = Table(title="Pure translation, CPU per request (µs, in-process, no I/O)")
    pure.add_column("path")
    pure.add_column("µs", justify="right")
    for name, value in results["pure_us"].items():
        pure.add_row(name, f"{value:.1f}")
    console.print(pure)
    for mode in ("whole", "stream"):
        title = f"Translation cost over OpenAI pass-through ({mode} answers, concurrency 1)"
        table = Table(title=title)
        for column in ("path", "added latency, paired median (ms)", "added gateway CPU (µs/req)"):
            table.add_column(column, justify="left" if column == "path" else "right")
        for path, row in results[mode]["translation"].items():
            table.add_row(path, f"{row['p50_ms']:+.3f}", f"{row['gateway_cpu_us']:+.0f}")
        console.print(table)
        detail = Table(title=f"Targets ({mode})")
        for column in ("target", "p50 (ms)", "p99 (ms)", "gateway CPU (µs/request)"):
            detail.add_column(column, justify="left" if column == "target" else "right")
        for name, row in results[mode]["targets"].items():
            detail.add_row(
                name, f"{row['p50_ms']:.3f}", f"{row['p99_ms']:.3f}", f"{row['gateway_cpu_us']:.0f}"
            )
        console.print(detail)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="smaller samples (about 1 minute)")
    args = parser.parse_args()
    outcome = asyncio.run(main(args.quick))
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "translation.json").write_text(json.dumps(outcome, indent=2))
    report(outcome, Console())
