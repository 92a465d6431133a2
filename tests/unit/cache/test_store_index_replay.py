"""The in-process store (TTL, LRU, bounds, purge), the vector index and replay/assembly."""

from __future__ import annotations

import msgspec
import numpy as np

from pointsman.cache.entry import CachedAnswer
from pointsman.cache.index import FILTER_MIN, VectorIndex, hamming_cut
from pointsman.cache.replay import assemble, replay_payloads, served_body
from pointsman.cache.store import MemoryStore
from pointsman.core.types import Usage


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def answer(text: str = "four", cost: int = 7) -> CachedAnswer:
    body = msgspec.json.encode(
        {"choices": [{"index": 0, "message": {"role": "assistant", "content": text}}]}
    )
    return CachedAnswer(body, 3, 1, cost, "sim/sim-small", 0.0)


async def test_ttl_expires_entries() -> None:
    clock = Clock()
    store = MemoryStore(10, 10**6, clock)
    await store.put("org:a", "k", answer(), ttl=5)
    assert await store.get("org:a", "k") is not None
    clock.now += 5.1
    assert await store.get("org:a", "k") is None
    assert (await store.stats()).entries == 0


async def test_lru_eviction_by_count_keeps_recently_used() -> None:
    store = MemoryStore(2, 10**6)
    await store.put("s", "a", answer(), 60)
    await store.put("s", "b", answer(), 60)
    assert await store.get("s", "a") is not None  # a is now the most recently used
    await store.put("s", "c", answer(), 60)
    assert await store.get("s", "b") is None
    assert await store.get("s", "a") is not None and await store.get("s", "c") is not None
    assert (await store.stats()).evictions == 1


async def test_eviction_by_bytes() -> None:
    size = answer("x" * 500).size
    store = MemoryStore(100, 2 * size + 10)
    for key in "abc":
        await store.put("s", key, answer("x" * 500), 60)
    stats = await store.stats()
    assert stats.entries == 2 and stats.bytes <= 2 * size + 10
    assert await store.get("s", "a") is None


async def test_scopes_are_separate_and_purge_takes_sub_scopes() -> None:
    store = MemoryStore(100, 10**6)
    await store.put("org:a", "k", answer("a"), 60)
    await store.put("org:a/key:1", "k", answer("a1"), 60)
    await store.put("org:b", "k", answer("b"), 60)
    found = await store.get("org:b", "k")
    assert found is not None and b'"b"' in found.body
    assert await store.purge("org:a") == 2
    assert await store.get("org:a", "k") is None and await store.get("org:b", "k") is not None


async def test_stats_count_hits_and_savings() -> None:
    store = MemoryStore(100, 10**6)
    await store.put("s", "k", answer(cost=250), 60)
    await store.get("s", "k")
    await store.get("s", "k", "semantic_hits")
    await store.count("s", "misses")
    stats = (await store.stats()).scopes["s"]
    assert (stats.hits, stats.semantic_hits, stats.misses, stats.stores) == (1, 1, 1, 1)
    assert stats.saved_micros == 500


async def test_a_semantic_candidate_is_counted_only_once_judged() -> None:
    store = MemoryStore(100, 10**6)
    await store.put("s", "k", answer(cost=250), 60)
    assert await store.get("s", "k", None) is not None  # read, not counted
    stats = (await store.stats()).scopes["s"]
    assert (stats.hits, stats.semantic_hits, stats.saved_micros) == (0, 0, 0)
    await store.count("s", "semantic_hits", 250)
    await store.count("s", "semantic_rejected")
    stats = (await store.stats()).scopes["s"]
    assert (stats.semantic_hits, stats.semantic_rejected, stats.saved_micros) == (1, 1, 250)


def unit(rng: np.random.Generator, n: int, dim: int = 64) -> np.ndarray:
    rows = rng.standard_normal((n, dim)).astype(np.float32)
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def test_index_finds_near_duplicates_only_in_their_partition() -> None:
    rng = np.random.default_rng(1)
    index = VectorIndex(10_000)
    rows = unit(rng, 3 * FILTER_MIN)  # large enough for the signature filter
    for i, row in enumerate(rows):
        index.add("p1", row, f"k{i}", expires=2e9)
    probe = rows[123] + 0.05 * unit(rng, 1)[0]
    probe /= np.linalg.norm(probe)
    match = index.search("p1", probe, 0.9)
    assert match is not None and match.key == "k123" and match.score > 0.9
    assert index.search("p2", probe, 0.9) is None
    assert index.search("p1", unit(rng, 1)[0], 0.9) is None  # nothing that close


def test_index_bounds_expiry_and_discard() -> None:
    clock = Clock()
    rng = np.random.default_rng(2)
    index = VectorIndex(3, clock)
    rows = unit(rng, 4)
    for i, row in enumerate(rows):
        index.add("p", row, f"k{i}", expires=clock.now + 10)
    assert len(index) == 3 and index.search("p", rows[0], 0.99) is None  # oldest evicted
    index.discard("p", "k3")
    assert index.search("p", rows[3], 0.99) is None
    clock.now += 11
    assert index.search("p", rows[1], 0.99) is None  # expired


def test_hamming_cut_grows_as_threshold_falls() -> None:
    assert hamming_cut(0.99) < hamming_cut(0.95) < hamming_cut(0.8) < 128


def chunk(delta: dict[str, object], finish: str | None = None) -> bytes:
    choice = {"index": 0, "delta": delta, "finish_reason": finish}
    return msgspec.json.encode({"id": "c1", "created": 1, "model": "m", "choices": [choice]})


def test_assemble_joins_content_and_tool_call_fragments() -> None:
    payloads = [
        chunk({"role": "assistant", "content": ""}),
        chunk({"content": "Hello "}),
        chunk({"content": "world"}),
        chunk(
            {
                "tool_calls": [
                    {"index": 0, "id": "t1", "function": {"name": "f", "arguments": '{"a"'}}
                ]
            }
        ),
        chunk({"tool_calls": [{"index": 0, "function": {"arguments": ": 1}"}}]}),
        chunk({}, "tool_calls"),
    ]
    body = assemble(payloads, Usage(prompt_tokens=4, completion_tokens=2))
    assert body is not None
    done = msgspec.json.decode(body)
    message = done["choices"][0]["message"]
    assert message["content"] == "Hello world"
    assert message["tool_calls"][0]["function"] == {"name": "f", "arguments": '{"a": 1}'}
    assert done["choices"][0]["finish_reason"] == "tool_calls"
    assert done["usage"]["total_tokens"] == 6


def test_assemble_refuses_an_unfinished_stream() -> None:
    assert assemble([chunk({"content": "Hel"})], Usage()) is None
    assert assemble([b"not json"], Usage()) is None


def test_replay_round_trips_and_marks_usage() -> None:
    text = "one two three four five six seven eight nine ten"
    body = msgspec.json.encode(
        {
            "id": "x",
            "object": "chat.completion",
            "created": 1,
            "model": "m",
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": text},
                    "finish_reason": "stop",
                }
            ],
            "usage": {"prompt_tokens": 3, "completion_tokens": 10, "total_tokens": 13},
        }
    )
    payloads = replay_payloads(body, "r1", "hit", include_usage=True)
    assert len(payloads) >= 5
    last = msgspec.json.decode(payloads[-1])
    assert last["choices"] == [] and last["usage"]["pointsman_cache"] == "hit"
    again = assemble(payloads, Usage(prompt_tokens=3, completion_tokens=10))
    assert again is not None
    assert msgspec.json.decode(again)["choices"][0]["message"]["content"] == text
    served = msgspec.json.decode(served_body(body, "r2", "semantic-hit"))
    assert served["id"] == "chatcmpl-r2" and served["usage"]["pointsman_cache"] == "semantic-hit"
