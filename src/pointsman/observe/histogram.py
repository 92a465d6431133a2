"""Fixed-bucket histograms and the quantiles read from them.

One :class:`Histogram` is a list of counts over fixed upper bounds (Prometheus ``le``
semantics: a value lands in the first bucket whose bound is >= it; the last bucket is +Inf).
Observing costs one ``bisect`` and two additions and allocates nothing, which is what lets the
request path record every request. Not thread-safe: one event loop owns each histogram.

Bucket bounds follow the OpenTelemetry GenAI semantic conventions where they name some
(:data:`DURATION`, :data:`TTFT`, :data:`TPOT`, :data:`TOKENS`); the dashboard uses the finer
geometric :data:`FINE` bounds so that its percentiles are within ~12 % of the truth.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Sequence

from prometheus_client.utils import floatToGoString

# gen_ai.client.operation.duration / gen_ai.server.request.duration (seconds)
DURATION = (0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92)
# gen_ai.server.time_to_first_token (seconds)
TTFT = (0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0)
# gen_ai.server.time_per_output_token (seconds)
TPOT = (0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 2.5)
# gen_ai.client.token.usage ({token})
TOKENS = tuple(float(4**i) for i in range(14))  # 1, 4, 16, ... 67108864
# 0.5 ms to ~ 2 minutes in steps of x1.25: the dashboard's percentiles
FINE = tuple(round(0.0005 * 1.25**i, 7) for i in range(56))


class Histogram:
    """Counts of observations per bucket, with their sum."""

    __slots__ = ("bounds", "counts", "sum")

    def __init__(self, bounds: Sequence[float]) -> None:
        self.bounds = tuple(bounds)
        self.counts = [0] * (len(self.bounds) + 1)
        self.sum = 0.0

    def observe(self, value: float) -> None:
        self.counts[bisect_left(self.bounds, value)] += 1
        self.sum += value

    @property
    def count(self) -> int:
        return sum(self.counts)

    def add(self, other: Histogram) -> None:
        """Add ``other``'s observations (same bounds) to this one."""
        counts = self.counts
        for i, n in enumerate(other.counts):
            counts[i] += n
        self.sum += other.sum

    def clear(self) -> None:
        counts = self.counts
        for i in range(len(counts)):
            counts[i] = 0
        self.sum = 0.0

    def cumulative(self) -> list[tuple[str, int]]:
        """``(le, cumulative count)`` pairs as Prometheus exposes them, +Inf last."""
        total = 0
        pairs: list[tuple[str, int]] = []
        for bound, n in zip(self.bounds, self.counts, strict=False):
            total += n
            pairs.append((floatToGoString(bound), total))  # type: ignore[no-untyped-call]
        pairs.append(("+Inf", total + self.counts[-1]))
        return pairs

    def quantile(self, q: float) -> float | None:
        return quantile(self.bounds, self.counts, q)


def quantile(bounds: Sequence[float], counts: Sequence[int], q: float) -> float | None:
    """The ``q``-quantile (0..1) of a histogram, interpolating linearly inside the bucket that
    holds it (as Prometheus' ``histogram_quantile`` does; the first bucket starts at 0). Values
    in the +Inf bucket are reported as the last bound. None for an empty histogram."""
    total = sum(counts)
    if total == 0:
        return None
    rank = q * total
    seen = 0
    for i, n in enumerate(counts):
        if n and seen + n >= rank:
            if i == len(bounds):
                return float(bounds[-1])
            lower = bounds[i - 1] if i > 0 else 0.0
            return lower + (bounds[i] - lower) * max(rank - seen, 0.0) / n
        seen += n
    return float(bounds[-1])
