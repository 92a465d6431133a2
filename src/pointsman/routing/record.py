"""Why a request went where it went: the route record, its response header and its log line.

The router writes one :class:`RouteRecord` per request on ``ctx.notes["routing"]``: the aliases
it went through and each one's policy and pick, the deployments constraints or open breakers
passed over, the cascade's steps and the shadow. Every response carries it compactly as
``x-pointsman-route``::

    policy=tiered; route=auto:tiered>fast:weighted; tier=cheap; score=0.812; threshold=0.604;
    reason=score; class=public; skipped=sim/sim-large:data_class

and the ``pointsman.routing`` logger gets the full record (with each exclusion's sentence) as
one JSON object per request.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import msgspec

from pointsman.core.pipeline import RequestContext
from pointsman.routing.composite import Pick
from pointsman.routing.table import Exclusion

NOTE = "routing"
HEADER = "x-pointsman-route"
log = logging.getLogger("pointsman.routing")
_encode = msgspec.json.encode


@dataclass(slots=True)
class Hop:
    """One alias the request went through: its policy kind, and what a composite one picked."""

    alias: str
    kind: str
    pick: Pick | None = None


@dataclass(slots=True)
class Step:
    """One cascade tier's turn: ``outcome`` is accepted, escalated, failed or final."""

    tier: str
    deployment: str | None
    score: float | None
    outcome: str
    detail: str | None = None


@dataclass(slots=True)
class RouteRecord:
    alias: str
    data_class: str
    hops: list[Hop] = field(default_factory=list)
    skipped: list[Exclusion] = field(default_factory=list)
    steps: list[Step] = field(default_factory=list)
    shadow: str | None = None
    leaf: str | None = None  # the alias whose deployments serve (None for a cascade)
    cascade: str | None = None  # the cascade alias that serves, when one does

    def skip(self, exclusions: list[Exclusion]) -> None:
        """Note exclusions once each (the same alias may be selected more than once)."""
        seen = {(e.deployment, e.reason) for e in self.skipped}
        self.skipped += [e for e in exclusions if (e.deployment, e.reason) not in seen]

    def _scored(self) -> Pick | None:
        for hop in reversed(self.hops):
            if hop.pick is not None and (hop.pick.score is not None or hop.pick.reason):
                return hop.pick
        return None

    def header(self) -> str:
        parts = [f"policy={self.hops[0].kind}" if self.hops else "policy=none"]
        if len(self.hops) > 1:
            parts.append("route=" + ">".join(f"{h.alias}:{h.kind}" for h in self.hops))
        pick = self._scored()
        if pick is not None:
            if pick.tier is not None:
                parts.append(f"tier={pick.tier}")
            if pick.score is not None:
                parts.append(f"score={pick.score:.3f}")
            if pick.threshold is not None:
                parts.append(f"threshold={pick.threshold:.3f}")
            if pick.reason is not None:
                parts.append(f"reason={pick.reason}")
        parts.append(f"class={self.data_class}")
        if self.steps:
            parts.append("steps=" + ",".join(_step(s) for s in self.steps))
        if self.skipped:
            parts.append("skipped=" + ",".join(f"{e.deployment}:{e.reason}" for e in self.skipped))
        if self.shadow is not None:
            parts.append(f"shadow={self.shadow}")
        return "; ".join(parts)

    def event(self, ctx: RequestContext) -> dict[str, Any]:
        """The log line's fields: everything in the header, with each exclusion's sentence."""
        pick = self._scored()
        return {
            "event": "route",
            "request_id": ctx.request_id,
            "alias": self.alias,
            "route": [h.alias for h in self.hops],
            "policies": [h.kind for h in self.hops],
            "tier": pick.tier if pick else None,
            "score": None if pick is None or pick.score is None else round(pick.score, 4),
            "threshold": None if pick is None or pick.threshold is None else pick.threshold,
            "reason": pick.reason if pick else None,
            "data_class": self.data_class,
            "deployment": ctx.deployment.name if ctx.deployment is not None else None,
            "skipped": [
                {"deployment": e.deployment, "reason": e.reason, "detail": e.detail}
                for e in self.skipped
            ],
            "steps": [
                {
                    "tier": s.tier,
                    "deployment": s.deployment,
                    "score": s.score,
                    "outcome": s.outcome,
                    "detail": s.detail,
                }
                for s in self.steps
            ],
            "shadow": self.shadow,
            "status": "ok" if ctx.error is None else (ctx.error.code or type(ctx.error).__name__),
        }


def _step(step: Step) -> str:
    score = "-" if step.score is None else f"{step.score:.3f}"
    return f"{step.tier}:{score}:{step.outcome}"


def record_of(ctx: RequestContext) -> RouteRecord | None:
    record = ctx.notes.get(NOTE)
    return record if isinstance(record, RouteRecord) else None


def write_log(ctx: RequestContext, record: RouteRecord) -> None:
    """The request's route as one JSON object on ``pointsman.routing`` (INFO), when enabled."""
    if log.isEnabledFor(logging.INFO):
        log.info(_encode(record.event(ctx)).decode())
