"""Cache lookup cost at scale, excluding the embedding call.

* semantic: :class:`~pointsman.cache.index.VectorIndex` with N unit vectors of 384 dimensions
  (MiniLM's size) in ONE partition (the worst case: every entry is a candidate), queried with
  near-duplicates of stored vectors (hits) and with random vectors (misses), at threshold 0.95;
* exact: :class:`~pointsman.cache.store.MemoryStore` ``get`` of N entries;
* verifier: :func:`~pointsman.cache.verify.verify` (run on every semantic candidate before it
  is served) on QQP question pairs read in place from ``--pairs`` (skipped when the file is
  not there), in microseconds per check.

Run: ``.venv/bin/python benchmarks/bench_cache.py [--entries 100000]``. Prints p50/p99 in ms
and writes ``benchmarks/results/cache.json``. The target is p50 <= 2 ms at 100,000 entries.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import time
from pathlib import Path

import numpy as np

from pointsman.cache.entry import CachedAnswer
from pointsman.cache.evaluation import load_pairs
from pointsman.cache.index import VectorIndex
from pointsman.cache.settings import EVAL_DATA
from pointsman.cache.store import MemoryStore
from pointsman.cache.verify import verify

DIM = 384
QUERIES = 400


def percentiles(samples: list[float]) -> dict[str, float]:
    ms = np.array(samples) * 1000
    return {
        "p50_ms": round(float(np.percentile(ms, 50)), 4),
        "p99_ms": round(float(np.percentile(ms, 99)), 4),
    }


def semantic(entries: int) -> dict[str, object]:
    rng = np.random.default_rng(0)
    vectors = rng.standard_normal((entries, DIM)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    index = VectorIndex(entries + 1)
    started = time.perf_counter()
    for i, row in enumerate(vectors):
        index.add("scope\x1fmodel\x1fshape", row, f"k{i}", expires=4e9)
    build = time.perf_counter() - started
    hits, misses, found = [], [], 0
    for _ in range(QUERIES):
        target = int(rng.integers(entries))
        noise = rng.standard_normal(DIM).astype(np.float32)
        probe = vectors[target] + 0.15 * noise / np.linalg.norm(noise)
        probe /= np.linalg.norm(probe)
        t = time.perf_counter()
        match = index.search("scope\x1fmodel\x1fshape", probe, 0.95)
        hits.append(time.perf_counter() - t)
        found += match is not None and match.key == f"k{target}"
        stray = rng.standard_normal(DIM).astype(np.float32)
        stray /= np.linalg.norm(stray)
        t = time.perf_counter()
        index.search("scope\x1fmodel\x1fshape", stray, 0.95)
        misses.append(time.perf_counter() - t)
    return {
        "entries": entries,
        "insert_us": round(build / entries * 1e6, 2),
        "hit": percentiles(hits),
        "miss": percentiles(misses),
        "recall_at_0.95": found / QUERIES,
    }


async def exact(entries: int) -> dict[str, object]:
    store = MemoryStore(entries + 1, 10**12)
    answer = CachedAnswer(b'{"choices": []}' * 20, 10, 20, 5, "sim/sim-small", 0.0)
    for i in range(entries):
        await store.put("org:a", f"{i:040x}", answer, 3600)
    samples = []
    for i in range(QUERIES * 5):
        key = f"{(i * 7919) % entries:040x}"
        t = time.perf_counter()
        await store.get("org:a", key)
        samples.append(time.perf_counter() - t)
    return {"entries": entries, "get": percentiles(samples)}


def verifier(path: Path, count: int) -> dict[str, object] | None:
    """Microseconds per verifier call on ``count`` question pairs (None without the file)."""
    if not path.is_file():
        return None
    pairs = load_pairs(path, count)
    samples = []
    for pair in pairs:
        t = time.perf_counter()
        verify(pair.text_a, pair.text_b)
        samples.append(time.perf_counter() - t)
    us = np.array(samples) * 1e6
    return {
        "pairs": len(pairs),
        "mean_us": round(float(us.mean()), 1),
        "p50_us": round(float(np.percentile(us, 50)), 1),
        "p99_us": round(float(np.percentile(us, 99)), 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--entries", type=int, default=100_000)
    parser.add_argument("--pairs", type=Path, default=EVAL_DATA)
    args = parser.parse_args()
    result = {
        "machine": f"{platform.machine()} {platform.processor() or ''}".strip(),
        "semantic": semantic(args.entries),
        "exact": asyncio.run(exact(args.entries)),
        "verifier": verifier(args.pairs, 20_000),
    }
    print(json.dumps(result, indent=2))
    out = Path(__file__).parent / "results" / "cache.json"
    out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
