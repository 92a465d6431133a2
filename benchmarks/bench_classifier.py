"""Per-request latency of the shipped complexity classifier on real prompts.

    python benchmarks/bench_classifier.py              # 5,000 prompts, 3 rounds
    python benchmarks/bench_classifier.py --prompts 1000 --rounds 1

Prompts are drawn (seeded) from the public RouteLLM data beside the project
(``../shared/data/routing/routellm``: MMLU, GSM8K and MT-Bench first turns). Each call is timed
alone around ``ComplexityClassifier.score`` on an OpenAI-style message list (text extraction,
features, both heads, calibration: the whole per-request path), as wall time
(``perf_counter_ns``) and as the thread's CPU time (``thread_time_ns``, which excludes time the
thread spent descheduled, so it stays meaningful on a busy machine). Reports p50/p90/p99/max in
microseconds, overall and (wall time) for the longest tenth of prompts, and writes
``benchmarks/results/classifier.json``.
"""

from __future__ import annotations

import argparse
import gc
import json
import platform
import random
import statistics
import time
from pathlib import Path
from typing import Any

from pointsman.routing.classifier import ComplexityClassifier
from pointsman.routing.evaluation.data import load_outcomes

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT.parent / "shared" / "data" / "routing" / "routellm"
WEAK = "mistralai/Mixtral-8x7B-Instruct-v0.1"
STRONG = "gpt-4-1106-preview"


def real_prompts(count: int, seed: int) -> list[str]:
    prompts: list[str] = []
    for data in (DATA / "mmlu", DATA / "gsm8k" / "gsm8k_responses.csv", DATA / "mt_bench"):
        prompts.extend(load_outcomes(data, WEAK, STRONG).prompts)
    random.Random(seed).shuffle(prompts)
    return prompts[:count]


def percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)

    def at(q: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 1)

    return {
        "p50_us": at(0.50),
        "p90_us": at(0.90),
        "p99_us": at(0.99),
        "max_us": round(ordered[-1], 1),
        "mean_us": round(statistics.fmean(ordered), 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--prompts", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if not DATA.is_dir():
        raise SystemExit(f"RouteLLM data not found at ../shared/data/routing/routellm ({DATA})")
    started = time.perf_counter()
    classifier = ComplexityClassifier.load()
    load_ms = (time.perf_counter() - started) * 1000
    prompts = real_prompts(args.prompts, args.seed)
    requests = [[{"role": "user", "content": p}] for p in prompts]
    for request in requests[:200]:  # warm caches
        classifier.score(request)
    timings: list[float] = []
    cpu: list[float] = []
    by_length: list[tuple[int, float]] = []
    gc.disable()
    try:
        for _ in range(args.rounds):
            for prompt, request in zip(prompts, requests, strict=True):
                c0 = time.thread_time_ns()
                t0 = time.perf_counter_ns()
                classifier.score(request)
                elapsed = (time.perf_counter_ns() - t0) / 1000
                cpu.append((time.thread_time_ns() - c0) / 1000)
                timings.append(elapsed)
                by_length.append((len(prompt), elapsed))
    finally:
        gc.enable()
    by_length.sort()
    longest = [t for _, t in by_length[-len(by_length) // 10 :]]
    lengths = sorted(len(p) for p in prompts)
    result: dict[str, Any] = {
        "prompts": len(prompts),
        "rounds": args.rounds,
        "prompt_chars_p50": lengths[len(lengths) // 2],
        "prompt_chars_max": lengths[-1],
        "model_load_ms": round(load_ms, 1),
        "all": percentiles(timings),
        "all_cpu_time": percentiles(cpu),
        "longest_tenth": percentiles(longest),
        "python": platform.python_version(),
        "machine": platform.machine(),
    }
    print(json.dumps(result, indent=2))
    out = ROOT / "benchmarks" / "results" / "classifier.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
