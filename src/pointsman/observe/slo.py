"""Latency SLOs and goodput: pure arithmetic over request timelines.

Definitions (times in seconds, on one monotonic clock):

* **TTFT**, time to first token: ``first_token - started`` for a stream. A whole (non-streamed)
  answer reaches the client in one piece, so its first token arrives with its last:
  ``finished - started``.
* **TPOT**, time per output token after the first: ``(finished - first_token) / (n - 1)`` for a
  stream of ``n >= 2`` output tokens, ``finished`` being when the last token was relayed. It is
  undefined (None) for fewer than two tokens and for whole answers.
* A request **meets** its SLO (``ttft``, ``tpot`` targets) when it succeeded and:

  - streamed: TTFT <= ``ttft`` and (TPOT undefined or TPOT <= ``tpot``);
  - whole answer: it arrived no later than a stream meeting both targets would have ended,
    ``finished - started <= ttft + tpot * max(n - 1, 0)``. Without this a long non-streamed
    answer could never meet a 500 ms TTFT, and a slow one could never miss a TPOT target.

* **Eligible** requests count towards compliance: successes and failures that are the gateway's
  or a provider's (5xx, upstream errors and timeouts, an upstream's 429). Refusals that are the
  caller's doing or policy (bad request, auth, our own rate limits and budgets) are not latency
  events and are left out, so a flood of rejected keys cannot turn the gauge red.
* **Compliance** = met / eligible over a sliding window; the gauge is green at >= 95 %, yellow
  at >= 90 %, red below.
* **Goodput** = requests meeting their SLO per second.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

GREEN_AT = 0.95
YELLOW_AT = 0.90
Colour = Literal["green", "yellow", "red", "grey"]


@dataclass(frozen=True, slots=True)
class Target:
    """SLO targets in seconds."""

    ttft: float = 0.5
    tpot: float = 0.05

    @classmethod
    def from_ms(cls, ttft_ms: float, tpot_ms: float) -> Target:
        return cls(ttft_ms / 1000, tpot_ms / 1000)


@dataclass(frozen=True, slots=True)
class Timeline:
    """When a request started, showed its first token (None: not streamed) and finished."""

    started: float
    finished: float
    first_token: float | None = None
    output_tokens: int = 0

    @property
    def latency(self) -> float:
        return self.finished - self.started


def ttft(timeline: Timeline) -> float:
    """Seconds until the client could see the first token (see the module docstring)."""
    first = timeline.first_token
    return (timeline.finished if first is None else first) - timeline.started


def tpot(timeline: Timeline) -> float | None:
    """Seconds per output token after the first; None when undefined."""
    first = timeline.first_token
    if first is None or timeline.output_tokens < 2:
        return None
    return max(timeline.finished - first, 0.0) / (timeline.output_tokens - 1)


def meets(target: Target, timeline: Timeline) -> bool:
    """Whether a *successful* request with this timeline meets ``target``."""
    if timeline.first_token is None:
        budget = target.ttft + target.tpot * max(timeline.output_tokens - 1, 0)
        return timeline.latency <= budget
    if ttft(timeline) > target.ttft:
        return False
    per_token = tpot(timeline)
    return per_token is None or per_token <= target.tpot


def eligible(status: int, code: str | None) -> bool:
    """Whether a request that ended with HTTP ``status`` (and error ``code``) counts towards
    compliance. Successes do; failures only when the gateway or a provider is at fault."""
    if status < 400:
        return True
    if status >= 500:
        return True
    # 429 is ours (rate_limit_exceeded, budget_exceeded) or an upstream's (upstream_rate_limited)
    return status == 429 and code not in ("rate_limit_exceeded", "budget_exceeded")


def compliance(met: int, eligible_count: int) -> float | None:
    """Share of eligible requests that met their SLO; None when there were none."""
    if eligible_count <= 0:
        return None
    return met / eligible_count


def colour(ratio: float | None) -> Colour:
    """The gauge colour for a compliance ratio: green >= 95 %, yellow >= 90 %, else red."""
    if ratio is None:
        return "grey"
    if ratio >= GREEN_AT:
        return "green"
    if ratio >= YELLOW_AT:
        return "yellow"
    return "red"


def goodput(met: int, seconds: float) -> float:
    """Requests meeting their SLO per second over ``seconds`` (0 for an empty span)."""
    return met / seconds if seconds > 0 else 0.0
