"""The router: one candidate function for every place that picks deployments for a request.

:class:`Router` is the config snapshot's :class:`~pointsman.routing.table.RouteTable` with
constraints and policies. :meth:`Router.select` (constraints, then the alias's policy) serves
the requested alias (through :meth:`Router.resolve`, from the ``Resolve`` stage), a budget
downgrade's target, the reliability walk's fallback and redirect aliases, a cascade's tiers and
a shadow's challenger, so a constraint holds wherever a deployment is picked, fallback included.

Per request:

1. the data class: declared (``x-pointsman-data-class`` / ``metadata.data_class``, at most the
   key's ceiling) or ``routing.undeclared``;
2. composite aliases are followed (task map, tiered) down to a leaf alias or a cascade;
3. the leaf's deployments are filtered by :mod:`.constraints`; when none is left the request is
   refused, naming each deployment and why (403 for data class, else 400), never sent elsewhere;
4. the leaf's policy orders the rest; deployments whose breaker is open go last (the walk passes
   over them);
5. everything decided is written to a :class:`~.record.RouteRecord` on ``ctx.notes``, which
   becomes the ``x-pointsman-route`` header and a ``pointsman.routing`` log line.

Selections are memoised per request and alias, so repeated calls (the walk, a cascade) agree and
the classifier scores a request once. Plain aliases cost a few microseconds.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Mapping
from typing import Any

from pointsman.config import AliasConfig, Config
from pointsman.core.pipeline import RequestContext
from pointsman.errors import InvalidRequestError, PermissionDeniedError, PointsmanError
from pointsman.governance.accounting import STEPS, Pricing
from pointsman.governance.catalog import Catalog, ModelInfo
from pointsman.governance.costs import cost_of
from pointsman.providers.base import Provider
from pointsman.reliability.board import HealthBoard
from pointsman.routing.cascade import Cascade
from pointsman.routing.composite import Pick, TaskMap, Tiered
from pointsman.routing.constraints import (
    Needs,
    chat_needs,
    data_class_of,
    declared_class,
    violation,
)
from pointsman.routing.policies import (
    Cheapest,
    LeafPolicy,
    LeastBusy,
    LeastLatency,
    Weighted,
)
from pointsman.routing.record import HEADER, NOTE, Hop, RouteRecord, write_log
from pointsman.routing.settings import (
    CascadePolicy,
    CheapestPolicy,
    LeastBusyPolicy,
    LeastLatencyPolicy,
    TaskMapPolicy,
    TieredPolicy,
    WeightedPolicy,
    targets,
)
from pointsman.routing.shadow import Shadow, ShadowLog, Sink
from pointsman.routing.table import Deployment, Exclusion, Resolve, RouteTable

Composite = TaskMap | Tiered | Cascade
_PICKS = "routing.picks"
_SELECTED = "routing.selected"
_NEEDS = "routing.needs"
_BUSY = "routing.busy"
SHADOW_NOTE = "routing.shadow"


class BoardSignals:
    """Latency EWMAs from the reliability board and this router's in-flight counts."""

    def __init__(self, board: HealthBoard | None, busy: Mapping[str, int]) -> None:
        self.board = board
        self.counts = busy

    def latency(self, name: str) -> float | None:
        state = self.board.states.get(name) if self.board is not None else None
        return state.latency_ewma if state is not None else None

    def busy(self, name: str) -> int:
        return self.counts.get(name, 0)


class Router(RouteTable):
    """Constraints and policies over a config snapshot's aliases; see the module docstring.

    Args:
        config: the snapshot.
        providers: its live providers, by name.
        catalog: prices and capabilities (default: the packaged catalog with the config's
            overrides).
        board: deployment health (breakers, latency EWMA); None: every deployment healthy.
        sink: takes shadow usage records (the governance usage writer); None: not recorded.
        rng, clock: injectable for tests.
    """

    def __init__(
        self,
        config: Config,
        providers: Mapping[str, Provider],
        *,
        catalog: Catalog | None = None,
        board: HealthBoard | None = None,
        sink: Sink | None = None,
        rng: random.Random | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(RouteTable.from_config(config, providers).aliases)
        specs = config.aliases()
        settings = config.routing
        self.catalog = catalog or Catalog.load(overrides=config.catalog or None)
        self.board = board
        self.clock = clock
        self.rng = rng or random.Random()
        self.reach = settings.reach()
        self.undeclared = settings.undeclared
        self.busy: dict[str, int] = {}
        self.signals = BoardSignals(board, self.busy)
        self.info: dict[str, ModelInfo | None] = {}
        for deployments in self.aliases.values():
            for d in deployments:
                self.info[d.name] = self.catalog.lookup(d.model, d.provider.protocol)
        self.leaf: dict[str, LeafPolicy] = {}
        self.composite: dict[str, Composite] = {}
        for alias, spec in specs.items():
            self._build(alias, spec)
        for alias in self.composite:
            self.aliases[alias] = self._members(alias, specs, set())
        self.counts_busy = any(isinstance(p, LeastBusy) for p in self.leaf.values())
        self.shadow_log = ShadowLog(settings.shadow_log)
        self.shadows = {
            alias: Shadow(
                alias,
                spec.shadow,
                self.allowed,
                self.price,
                self.shadow_log,
                sink,
                self.catalog.version,
                self.rng,
            )
            for alias, spec in specs.items()
            if spec.shadow is not None
        }

    def _build(self, alias: str, spec: AliasConfig) -> None:
        policy = spec.policy
        if isinstance(policy, TaskMapPolicy):
            self.composite[alias] = TaskMap(alias, policy)
        elif isinstance(policy, TieredPolicy):
            self.composite[alias] = Tiered.from_settings(f"models.{alias}", policy)
        elif isinstance(policy, CascadePolicy):
            self.composite[alias] = Cascade(policy)
        elif isinstance(policy, LeastLatencyPolicy):
            self.leaf[alias] = LeastLatency(self.signals, self.rng)
        elif isinstance(policy, LeastBusyPolicy):
            self.leaf[alias] = LeastBusy(self.signals, self.rng)
        elif isinstance(policy, CheapestPolicy):
            self.leaf[alias] = Cheapest(policy, self.blended_price, self.rng)
        else:
            weighted = policy if isinstance(policy, WeightedPolicy) else None
            self.leaf[alias] = Weighted(alias, weighted, self.rng)

    def _members(
        self, alias: str, specs: Mapping[str, AliasConfig], seen: set[str]
    ) -> list[Deployment]:
        """A composite alias's deployments: those of every alias it may route to (for reports
        and health views; requests never use this list directly)."""
        seen.add(alias)
        members: dict[str, Deployment] = {}
        policy = specs[alias].policy
        for setting, target in targets(policy):
            if setting == "verifier" or target in seen:
                continue
            if target in self.composite:
                source = self._members(target, specs, seen)
            else:
                source = self.aliases[target]
            for d in source:
                members.setdefault(d.name, d)
        return list(members.values())

    # -- prices ---------------------------------------------------------------------------------

    def blended_price(self, deployment: Deployment) -> float | None:
        """Input plus output USD per million tokens (None: not in the catalog)."""
        info = self.info.get(deployment.name)
        return None if info is None else float(info.input + info.output)

    def price(self, deployment: Deployment, usage: Any) -> int:
        """Micro-USD of ``usage`` on ``deployment``."""
        info = self.info.get(deployment.name)
        if info is None:
            info = self.catalog.lookup(deployment.model, deployment.provider.protocol)
        return cost_of(usage, info).micros

    def cost(self, ctx: RequestContext) -> int:
        """Micro-USD of a finished request, its cascade steps included."""
        total = 0
        if ctx.deployment is not None and ctx.usage is not None:
            total += self.price(ctx.deployment, ctx.usage)
        for deployment, usage in ctx.notes.get(STEPS, ()):
            total += self.price(deployment, usage)
        return total

    # -- selection ------------------------------------------------------------------------------

    def data_class(self, ctx: RequestContext) -> str:
        """The request's data class. Raises for an unknown class or one above the ceiling."""
        ceiling = ctx.caller.data_class if ctx.caller is not None else None
        return data_class_of(declared_class(ctx.headers, ctx.chat), ceiling, self.undeclared)

    def record(self, ctx: RequestContext) -> RouteRecord:
        record = ctx.notes.get(NOTE)
        if not isinstance(record, RouteRecord):
            record = ctx.notes[NOTE] = RouteRecord(ctx.alias, self.data_class(ctx))
        return record

    def _needs(self, ctx: RequestContext, data_class: str) -> Needs:
        needs = ctx.notes.get(_NEEDS)
        if needs is None or needs.data_class != data_class:
            if ctx.chat is not None:
                needs = chat_needs(ctx.chat, data_class, Pricing.prompt_tokens(ctx))
            else:
                needs = Needs(data_class, kind="embeddings")
            ctx.notes[_NEEDS] = needs
        return needs

    def pick(self, ctx: RequestContext, alias: str, policy: Composite) -> Pick:
        """A composite alias's pick for ``ctx`` (memoised: one classifier score per request)."""
        picks: dict[str, Pick] = ctx.notes.setdefault(_PICKS, {})
        pick = picks.get(alias)
        if pick is None:
            if isinstance(policy, Cascade):  # reached by a walk or a cascade: its final tier
                pick = Pick(policy.tiers[-1], policy.tiers[-1], reason="final")
            else:
                pick = policy.pick(ctx)
            picks[alias] = pick
        return pick

    def leaf_of(self, ctx: RequestContext, alias: str) -> str:
        """The leaf alias a (possibly composite) alias leads to for ``ctx``."""
        while (policy := self.composite.get(alias)) is not None:
            alias = self.pick(ctx, alias, policy).alias
        return alias

    def select(self, ctx: RequestContext, alias: str) -> tuple[list[Deployment], list[Exclusion]]:
        """Constraints, then the leaf policy's order; see :meth:`RouteTable.select`."""
        leaf = self.leaf_of(ctx, alias)
        selected: dict[str, tuple[list[Deployment], list[Exclusion]]] = ctx.notes.setdefault(
            _SELECTED, {}
        )
        known = selected.get(leaf)
        if known is not None:
            return known
        record = self.record(ctx)
        needs = self._needs(ctx, record.data_class)
        allowed: list[Deployment] = []
        excluded: list[Exclusion] = []
        for deployment in self.aliases[leaf]:
            info = self.info.get(deployment.name)
            why = violation(needs, deployment.data_class, info, self.reach)
            if why is None:
                allowed.append(deployment)
            else:
                excluded.append(Exclusion(deployment.name, *why))
        ordered = self._healthy_first(self.leaf[leaf].order(allowed, ctx), record)
        record.skip(excluded)
        selected[leaf] = result = (ordered, excluded)
        return result

    def _healthy_first(self, ordered: list[Deployment], record: RouteRecord) -> list[Deployment]:
        board = self.board
        if board is None or not ordered:
            return ordered
        now = self.clock()
        down = [d for d in ordered if (s := board.states.get(d.name)) and not s.available(now)]
        if not down:
            return ordered
        record.skip([Exclusion(d.name, "breaker_open", "circuit breaker open") for d in down])
        return [d for d in ordered if d not in down] + down

    def allowed(self, ctx: RequestContext, alias: str) -> list[Deployment]:
        return self.select(ctx, alias)[0]

    def required(self, ctx: RequestContext, alias: str) -> list[Deployment]:
        """The allowed deployments of ``alias``; raises the refusal when there are none."""
        allowed, excluded = self.select(ctx, alias)
        if not allowed:
            raise refusal(self.leaf_of(ctx, alias), excluded, self.record(ctx))
        return allowed

    def resolve(self, ctx: RequestContext, alias: str) -> None:
        """Route ``ctx`` to ``alias``: record the hops, set ``ctx.candidates`` (and, for a
        cascade, the reservation of its later calls). Raises the refusal when no deployment may
        take the request, or a composite policy's error (e.g. an unknown task)."""
        old = ctx.notes.get(NOTE)
        data_class = old.data_class if isinstance(old, RouteRecord) else self.data_class(ctx)
        record = ctx.notes[NOTE] = RouteRecord(alias, data_class)
        current = alias
        try:
            while (policy := self.composite.get(current)) is not None:
                if isinstance(policy, Cascade):
                    record.hops.append(Hop(current, policy.kind, policy.pick(ctx)))
                    record.cascade = current
                    ctx.candidates = policy.plan(ctx, self, self.info)
                    return
                pick = self.pick(ctx, current, policy)
                record.hops.append(Hop(current, policy.kind, pick))
                current = pick.alias
            record.hops.append(Hop(current, self.leaf[current].kind))
            record.leaf = current
            ctx.candidates = self.required(ctx, current)
        except PointsmanError as error:
            error.headers.setdefault(HEADER, record.header())
            raise

    # -- request lifecycle ----------------------------------------------------------------------

    def began(self, ctx: RequestContext) -> None:
        """Count the request in flight on its likely deployment (least-busy routing)."""
        if self.counts_busy and ctx.candidates:
            name = ctx.candidates[0].name
            self.busy[name] = self.busy.get(name, 0) + 1
            ctx.notes[_BUSY] = name

    def served(self, ctx: RequestContext) -> None:
        """Move the in-flight count to the deployment that actually answered."""
        name = ctx.notes.get(_BUSY)
        if name is not None and ctx.deployment is not None and ctx.deployment.name != name:
            self.busy[name] -= 1
            self.busy[ctx.deployment.name] = self.busy.get(ctx.deployment.name, 0) + 1
            ctx.notes[_BUSY] = ctx.deployment.name

    def settle(self, ctx: RequestContext) -> None:
        """The request completed (a stream: ended): release its in-flight count, teach AIMD
        shares, complete its shadow comparison, write its route log line. Never raises."""
        name = ctx.notes.pop(_BUSY, None)
        if name is not None:
            self.busy[name] -= 1
        if ctx.attempts:
            for alias in {a.alias for a in ctx.attempts}:
                policy = self.leaf.get(alias)
                if isinstance(policy, Cheapest):
                    policy.observe(ctx.attempts)
        shadowed = ctx.notes.get(SHADOW_NOTE)
        if shadowed is not None:
            shadow, comparison = shadowed
            shadow.finish(ctx, comparison, self.cost(ctx))
        record = ctx.notes.get(NOTE)
        if isinstance(record, RouteRecord):
            write_log(ctx, record)

    async def close(self) -> None:
        for shadow in self.shadows.values():
            await shadow.close()


def refusal(alias: str, excluded: list[Exclusion], record: RouteRecord) -> PointsmanError:
    """The error for a request no deployment of ``alias`` may take: 403 when a data class
    forbids one, else 400; the message names every deployment and why."""
    reasons = "; ".join(f"{e.deployment}: {e.detail}" for e in excluded) or "none configured"
    text = f"No deployment of '{alias}' may take this request ({record.data_class} data): {reasons}"
    headers = {HEADER: record.header()}
    kinds = {e.reason for e in excluded}
    if "data_class" in kinds:
        code = "data_class_not_allowed"
        return PermissionDeniedError(text, param="model", code=code, headers=headers)
    code = "context_length_exceeded" if kinds == {"context"} else "no_capable_deployment"
    return InvalidRequestError(text, param="model", code=code, headers=headers)


class RouteStage(Resolve):
    """``Resolve`` over a :class:`Router`; when the request completes it settles the request's
    routing state (:meth:`Router.settle`)."""

    name = "resolve"

    def __init__(self, router: Router) -> None:
        super().__init__(router)
        self.router = router

    async def on_request(self, ctx: RequestContext) -> None:
        await super().on_request(ctx)
        # Counted now, not at dispatch: the requests resolved in between must see this one.
        self.router.began(ctx)

    async def on_complete(self, ctx: RequestContext) -> None:
        self.router.settle(ctx)
