"""What one finished request amounts to: the flat record every observer reads.

:func:`read_outcome` turns a completed :class:`~pointsman.core.pipeline.RequestContext` into an
:class:`Outcome` once, so that metrics, the dashboard, traces and logs never reach into the
context (or into other stages' notes) themselves. It reads:

* ``ctx.notes["pricing.actual"]``: the cost in micro-USD, priced by governance's accounting;
  when governance is off, ``price`` (the observer's own pricing) is asked instead.
* ``ctx.notes["cache"]``: the cache stage's note. A string is the outcome (``"hit"``,
  ``"miss"`` ...); an object or mapping may carry ``outcome`` (or ``hit: bool``) and
  ``saved_micros``. Without a note, a request answered with no attempt and no error is a hit
  (only the cache short-circuits with an answer); anything else is ``"none"``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

from pointsman.core.pipeline import RequestContext
from pointsman.observe.slo import Target, Timeline, eligible, meets, tpot

PriceFn = Callable[[RequestContext], int]
_COST = "pricing.actual"
# One attempt: (deployment, gen_ai.system, "ok" or its cause, seconds; None for a skip).
# A streamed answer's call lasts until its last token.
Call = tuple[str, str, str, float | None]


class Outcome:
    """One finished request, flattened. Times are seconds; costs integer micro-USD."""

    __slots__ = (
        "alias",
        "at",
        "attempts",
        "cache",
        "calls",
        "code",
        "cost",
        "deployment",
        "eligible",
        "failures",
        "fallback",
        "input_tokens",
        "key",
        "kind",
        "latency",
        "message",
        "met",
        "model",
        "org",
        "output_tokens",
        "request_id",
        "saved",
        "slo_class",
        "status",
        "streamed",
        "system",
        "team",
        "tier",
        "tpot",
        "ttft",
    )

    alias: str
    at: float  # wall-clock seconds when it finished
    attempts: int  # calls made to deployments
    cache: str  # "hit", "miss", ... or "none" (no cache stage spoke)
    calls: list[Call]  # every attempt, skips included
    code: str  # "ok" or the error code
    cost: int
    deployment: str  # provider/model that answered ("" when none did)
    eligible: bool  # counts towards SLO compliance
    failures: list[tuple[str, str]]  # (deployment, cause) of each failed or skipped attempt
    fallback: bool  # served (or failed) elsewhere than the first deployment tried
    input_tokens: int
    key: str
    kind: str  # gen_ai.operation.name: "chat" or "embeddings"
    latency: float
    message: str  # the error message ("" on success)
    met: bool
    model: str  # the upstream model (gen_ai.response.model)
    org: str
    output_tokens: int
    request_id: str
    saved: int  # micro-USD a cache hit saved
    slo_class: str
    status: int  # the HTTP status the client got
    streamed: bool
    system: str  # gen_ai.system: the upstream protocol ("openai", "anthropic" ...)
    team: str
    tier: str
    tpot: float | None
    ttft: float | None  # streams only: a whole answer's "first token" is its latency


def _cache(ctx: RequestContext) -> tuple[str, int]:
    note: Any = ctx.notes.get("cache")
    if note is None:
        hit = ctx.error is None and not ctx.attempts and ctx.result is not None
        return ("hit" if hit else "none"), 0
    if isinstance(note, str):
        return note, 0
    get: Callable[[str], Any] = (
        note.get if isinstance(note, Mapping) else lambda name: getattr(note, name, None)
    )
    outcome = get("outcome")
    if outcome is None:
        flag = get("hit")
        outcome = "none" if flag is None else ("hit" if flag else "miss")
    return str(outcome), int(get("saved_micros") or 0)


def read_outcome(
    ctx: RequestContext,
    *,
    target: Target,
    slo_class: str,
    tiers: Mapping[str, str],
    systems: Mapping[str, str],
    price: PriceFn | None = None,
) -> Outcome:
    """Flatten a completed context (``on_complete`` has set ``ctx.finished_at``).

    ``target`` and ``slo_class`` are the request's SLO; ``tiers`` and ``systems`` map
    deployment names to their routing tier and upstream protocol; ``price`` prices the usage
    when no accounting stage did.
    """
    out = Outcome()
    finished = ctx.finished_at or time.perf_counter()
    error = ctx.error
    deployment = ctx.deployment
    usage = ctx.usage
    caller = ctx.caller
    out.at = time.time()
    out.request_id = ctx.request_id
    out.kind = ctx.kind
    out.alias = ctx.alias
    if deployment is not None:
        out.deployment = name = deployment.name
        out.model = deployment.model
        out.system = deployment.provider.protocol
        out.tier = tiers.get(name, "")
    else:
        out.deployment = out.model = out.system = out.tier = ""
    out.status = 200 if error is None else error.status
    out.code = "ok" if error is None else (error.code or type(error).__name__)
    out.message = "" if error is None else error.message
    out.streamed = streamed = ctx.streaming
    out.input_tokens = usage.prompt_tokens if usage is not None else 0
    out.output_tokens = tokens = usage.completion_tokens if usage is not None else 0
    out.org = (caller.org_id or "") if caller is not None else ""
    out.team = (caller.team_id or "") if caller is not None else ""
    out.key = caller.key_id if caller is not None else ""
    cost = ctx.notes.get(_COST)
    if cost is None:
        cost = price(ctx) if price is not None and usage is not None and deployment else 0
    out.cost = int(cost)
    out.cache, out.saved = _cache(ctx)
    attempts = ctx.attempts
    calls: list[Call] = []
    failures: list[tuple[str, str]] = []
    made = 0
    for a in attempts:
        system = systems.get(a.deployment, "")
        if a.outcome == "ok":
            took = finished - a.started if streamed else a.latency
            calls.append((a.deployment, system, "ok", took))
            made += 1
            continue
        what = a.cause or a.outcome
        calls.append((a.deployment, system, what, None if a.number == 0 else a.latency))
        failures.append((a.deployment, what))
        made += a.number > 0
    out.calls, out.failures, out.attempts = calls, failures, made
    # a retry of the same deployment is not a fallback; reaching another one is
    out.fallback = len(attempts) > 1 and len({a.deployment for a in attempts}) > 1
    first = ctx.first_token_at if streamed else None
    timeline = Timeline(ctx.started, finished, first, tokens)
    out.latency = finished - ctx.started
    out.ttft = None if first is None else first - ctx.started
    out.tpot = tpot(timeline) if first is not None else None
    out.slo_class = slo_class
    out.eligible = error is None or eligible(out.status, error.code)
    out.met = error is None and meets(target, timeline)
    return out
