"""The in-process vector index of the semantic cache: nearest neighbour by cosine, per partition.

A *partition* holds the vectors that may answer one another: one scope, one embedder, one
request shape (see :mod:`pointsman.cache.keys`); a search never looks outside its partition,
which is what keeps a semantic hit inside its tenant.

Small partitions are searched exactly (one numpy matrix-vector product over unit rows). A
larger one is first narrowed by random-hyperplane signatures (sign-LSH): each vector keeps
:data:`BITS` sign bits, stored bit-sliced in 64-bit columns, and only rows whose Hamming
distance to the query is small enough to reach the threshold are scored exactly. An exact
scan of 100,000 vectors costs 15-40 ms on one core; the filter a fraction of a millisecond
(``benchmarks/bench_cache.py``). The bound is statistical, not approximate in the usual
sense: for two vectors at angle θ each bit differs with probability θ/π, so a cut at the
threshold's mean plus :data:`SIGMAS` standard deviations misses a neighbour at the threshold
with probability ~3e-5, and a closer one with less.

Bounds: at most ``max_entries`` vectors in all; the oldest go first. Each vector carries its
expiry (wall clock, so replicas agree) and is skipped once it has passed. Dead rows are
compacted away when they reach half a partition. Not thread-safe: use it from the event loop.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from pointsman.cache.embedders import Vectors

__all__ = ["BITS", "FILTER_MIN", "Match", "VectorIndex", "hamming_cut"]

BITS = 256  # signature length: 4 columns of 64 bits
SIGMAS = 4.0
FILTER_MIN = 2048  # below this many rows an exact scan is as cheap as the filter
Clock = Callable[[], float]
_planes: dict[int, npt.NDArray[np.float32]] = {}


def _hyperplanes(dim: int) -> npt.NDArray[np.float32]:
    """The fixed random hyperplanes for ``dim`` (same seed everywhere: replicas agree)."""
    if dim not in _planes:
        rng = np.random.default_rng(20240607)
        _planes[dim] = rng.standard_normal((dim, BITS)).astype(np.float32)
    return _planes[dim]


def signature(vectors: Vectors) -> npt.NDArray[np.uint64]:
    """The sign bits of ``vectors`` (rows) as ``(rows, BITS // 64)`` unsigned 64-bit words."""
    rows = np.atleast_2d(vectors)
    bits = np.packbits(rows @ _hyperplanes(rows.shape[1]) > 0, axis=1)
    return np.ascontiguousarray(bits).view(np.uint64)


def hamming_cut(threshold: float) -> int:
    """The largest Hamming distance a vector at cosine ``threshold`` plausibly has."""
    p = math.acos(max(-1.0, min(1.0, threshold))) / math.pi
    return math.ceil(BITS * p + SIGMAS * math.sqrt(BITS * p * (1 - p)))


@dataclass(frozen=True, slots=True)
class Match:
    key: str  # the exact key of the answer
    score: float  # cosine similarity


class _Partition:
    """Rows of one partition: vectors, exact keys, expiries, and liveness."""

    def __init__(self, dim: int) -> None:
        self.dim = dim
        self.vectors = np.zeros((16, dim), dtype=np.float32)
        self.keys: list[str] = []
        self.expires = np.zeros(16, dtype=np.float64)
        self.alive = np.zeros(16, dtype=bool)
        self.slots: dict[str, int] = {}  # exact key -> row
        self.serials: dict[str, int] = {}  # exact key -> the add that put it here
        self.dead = 0
        self.words = [np.zeros(16, dtype=np.uint64) for _ in range(BITS // 64)]  # bit-sliced

    def __len__(self) -> int:
        return len(self.keys) - self.dead

    def _grow(self) -> None:
        size = len(self.expires) * 2
        vectors = np.zeros((size, self.dim), dtype=np.float32)
        vectors[: len(self.keys)] = self.vectors[: len(self.keys)]
        expires = np.zeros(size, dtype=np.float64)
        expires[: len(self.keys)] = self.expires[: len(self.keys)]
        alive = np.zeros(size, dtype=bool)
        alive[: len(self.keys)] = self.alive[: len(self.keys)]
        self.vectors, self.expires, self.alive = vectors, expires, alive
        for i, column in enumerate(self.words):
            self.words[i] = np.zeros(size, dtype=np.uint64)
            self.words[i][: len(self.keys)] = column[: len(self.keys)]

    def add(self, vector: Vectors, key: str, expires: float, serial: int) -> int:
        self.serials[key] = serial
        if key in self.slots:
            self.kill(self.slots[key])
        if len(self.keys) == len(self.expires):
            self._grow()
        row = len(self.keys)
        self.vectors[row] = vector
        self.expires[row] = expires
        self.alive[row] = True
        for column, word in zip(self.words, signature(vector)[0], strict=True):
            column[row] = word
        self.keys.append(key)
        self.slots[key] = row
        return row

    def kill(self, row: int) -> None:
        if not self.alive[row]:
            return
        self.alive[row] = False
        self.dead += 1
        key = self.keys[row]
        if self.slots.get(key) == row:
            del self.slots[key]
            self.serials.pop(key, None)

    def search(self, vector: Vectors, now: float, threshold: float) -> tuple[int, float] | None:
        used = len(self.keys)
        if used >= FILTER_MIN:
            query = signature(vector)[0]
            distance = np.bitwise_count(self.words[0][:used] ^ query[0])
            for column, word in zip(self.words[1:], query[1:], strict=True):
                distance += np.bitwise_count(column[:used] ^ word)
            rows = np.flatnonzero(distance <= hamming_cut(threshold))
        else:
            rows = np.arange(used)
        rows = rows[self.alive[rows] & (self.expires[rows] > now)]
        if not len(rows):
            return None
        scores = self.vectors[rows] @ vector
        best = int(np.argmax(scores))
        return int(rows[best]), float(scores[best])

    def compacted(self) -> _Partition:
        fresh = _Partition(self.dim)
        for row in np.flatnonzero(self.alive[: len(self.keys)]):
            key = self.keys[row]
            fresh.add(self.vectors[row], key, float(self.expires[row]), self.serials[key])
        return fresh


class VectorIndex:
    """Partitioned nearest-neighbour index over unit vectors of dimension ``dim``."""

    def __init__(self, max_entries: int, clock: Clock = time.time) -> None:
        self.max_entries = max_entries
        self._clock = clock
        self._partitions: dict[str, _Partition] = {}
        self._order: deque[tuple[str, str, int]] = deque()  # (partition, key, serial)
        self._live = 0
        self._serial = 0

    def __len__(self) -> int:
        return self._live

    def add(self, partition: str, vector: Vectors, key: str, expires: float) -> None:
        """Add (or replace) the vector of ``key``; evicts the oldest vectors past the bound."""
        part = self._partitions.get(partition)
        if part is None:
            part = self._partitions[partition] = _Partition(int(vector.shape[-1]))
        before = len(part)
        self._serial += 1
        part.add(vector, key, expires, self._serial)
        self._live += len(part) - before
        self._order.append((partition, key, self._serial))
        while self._live > self.max_entries and self._order:
            name, old, serial = self._order.popleft()
            if self._current(name, old, serial):
                self.discard(name, old)
        if len(self._order) > 2 * self.max_entries + 1024:  # replaced and discarded ones
            self._order = deque(o for o in self._order if self._current(*o))

    def _current(self, partition: str, key: str, serial: int) -> bool:
        part = self._partitions.get(partition)
        return part is not None and part.serials.get(key) == serial

    def search(self, partition: str, vector: Vectors, threshold: float) -> Match | None:
        """The nearest live vector in ``partition`` at cosine >= ``threshold``, or None."""
        part = self._partitions.get(partition)
        if part is None:
            return None
        found = part.search(vector, self._clock(), threshold)
        if found is None:
            return None
        row, score = found
        return Match(part.keys[row], score) if score >= threshold else None

    def discard(self, partition: str, key: str) -> None:
        """Forget ``key`` in ``partition`` (its answer is gone). No-op when absent."""
        part = self._partitions.get(partition)
        if part is None or key not in part.slots:
            return
        part.kill(part.slots[key])
        self._live -= 1
        if not len(part):
            del self._partitions[partition]
        elif part.dead > len(part):
            self._partitions[partition] = part.compacted()

    def purge(self, prefix: str | None) -> int:
        """Drop every partition whose name starts with ``prefix`` (None: all)."""
        doomed = [p for p in self._partitions if prefix is None or p.startswith(prefix)]
        dropped = 0
        for name in doomed:
            dropped += len(self._partitions.pop(name))
        self._live -= dropped
        return dropped
