"""Routing settings: per-alias policies and shadows, and the ``routing:`` section of the config.

::

    models:
      smart:                        # a leaf alias: its deployments, in its policy's order
        deployments: [{provider: a, model: m1}, {provider: b, model: m1, data_class: self_hosted}]
        policy: {kind: least_latency}
      auto:                         # a composite alias: picks another alias for each request
        policy: {kind: tiered, cheap: fast, strong: smart, strong_share: 0.3}
        shadow: {alias: challenger, sample: 0.05}
    routing:
      data_classes: {regulated: [self_hosted, air_gapped]}   # laid over DEFAULT_REACH
      undeclared: ceiling

Leaf policies order an alias's own deployments: ``weighted`` (the default), ``least_latency``,
``least_busy``, ``cheapest``. Composite policies pick another alias (which may itself be
composite): ``task_map``, ``tiered``, ``cascade``. Cross-alias checks (targets exist, no cycles)
are in :func:`check_aliases`.

This module imports nothing from the rest of the package so that ``config.py`` can use it.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Annotated, Literal, Protocol

from msgspec import Meta, Struct

Share = Annotated[float, Meta(ge=0, le=1)]
DataClass = Literal["public", "internal", "regulated", "restricted"]
DeploymentClass = Literal["closed_api", "managed_open", "self_hosted", "air_gapped"]
# Ordered from least to most sensitive, and from most to least exposed.
DATA_CLASSES: tuple[str, ...] = ("public", "internal", "regulated", "restricted")
DEPLOYMENT_CLASSES: tuple[str, ...] = ("closed_api", "managed_open", "self_hosted", "air_gapped")
# Which deployment classes each request data class may reach, unless routing.data_classes says
# otherwise: public and internal data may go anywhere; regulated data (personal, health,
# financial records) stays on infrastructure the organisation runs; restricted data never
# leaves an air-gapped deployment.
DEFAULT_REACH: dict[str, tuple[str, ...]] = {
    "public": DEPLOYMENT_CLASSES,
    "internal": DEPLOYMENT_CLASSES,
    "regulated": ("self_hosted", "air_gapped"),
    "restricted": ("air_gapped",),
}


_OPTIONS = {"forbid_unknown_fields": True, "omit_defaults": True, "frozen": True}


class WeightedPolicy(Struct, tag="weighted", tag_field="kind", **_OPTIONS):
    """By deployment weight (a canary: weights 90 and 10). ``sticky`` pins each API key, or each
    value of ``session_header``, to the same first pick while the weights stay the same."""

    sticky: Literal["key", "session"] | None = None
    session_header: str = "x-session-id"


class LeastLatencyPolicy(Struct, tag="least_latency", tag_field="kind", **_OPTIONS):
    """Power of two choices on the deployments' EWMA of time to first byte."""


class LeastBusyPolicy(Struct, tag="least_busy", tag_field="kind", **_OPTIONS):
    """Fewest requests in flight in this process first (ties broken at random)."""


class CheapestPolicy(Struct, tag="cheapest", tag_field="kind", **_OPTIONS):
    """Cheapest deployment first (catalog price), with AIMD shares so that load sheds to the
    next-cheapest gradually instead of flapping: each deployment is taken, in price order, with
    probability ``share``; a success adds ``increase``, an overload (429, 5xx, timeout) multiplies
    by ``decrease``, never below ``floor``."""

    increase: Annotated[float, Meta(gt=0, le=1)] = 0.05
    decrease: Annotated[float, Meta(gt=0, lt=1)] = 0.5
    floor: Share = 0.05


class TaskMapPolicy(Struct, tag="task_map", tag_field="kind", **_OPTIONS):
    """The caller's declared task (``x-pointsman-task`` header or ``metadata.task``) -> alias."""

    tasks: dict[str, str]
    default: str | None = None


class TieredPolicy(Struct, tag="tiered", tag_field="kind", **_OPTIONS):
    """The complexity classifier's score P(cheap tier good enough) picks ``cheap`` or ``strong``.

    The threshold comes from the model's calibration: ``strong_share`` (share of calls to send to
    the strong tier) or ``quality`` (share of the weak-to-strong quality gap to recover); exactly
    one. ``band`` (share points) routes the calls scoring just above the threshold up too: the
    classifier is unsure there. ``model``: a model file (relative to the working directory);
    None: the model shipped with the package.
    """

    cheap: str
    strong: str
    strong_share: Share | None = None
    quality: Share | None = None
    band: Share = 0.05
    model: str | None = None


Scorer = Literal["logprob", "json_schema", "agreement", "verifier"]


class CascadePolicy(Struct, tag="cascade", tag_field="kind", **_OPTIONS):
    """Ask ``tiers[0]`` first, score its answer with ``scorer``, escalate to the next tier when
    the score (0..1) is below ``threshold``; the last tier's answer is final."""

    tiers: Annotated[list[str], Meta(min_length=2)]
    scorer: Scorer = "logprob"
    threshold: Share = 0.5
    verifier: str | None = None  # the alias that judges answers, for scorer: verifier


Policy = (
    WeightedPolicy
    | LeastLatencyPolicy
    | LeastBusyPolicy
    | CheapestPolicy
    | TaskMapPolicy
    | TieredPolicy
    | CascadePolicy
)
COMPOSITE = (TaskMapPolicy, TieredPolicy, CascadePolicy)


class ShadowSettings(Struct, forbid_unknown_fields=True, omit_defaults=True, frozen=True):
    """Mirror ``sample`` of the alias's chat requests to ``alias`` (the challenger), never
    affecting the client; each mirrored call gets at most ``timeout`` seconds."""

    alias: str
    sample: Annotated[float, Meta(gt=0, le=1)] = 0.05
    timeout: Annotated[float, Meta(gt=0, le=600)] = 30.0


class RoutingSettings(Struct, forbid_unknown_fields=True, omit_defaults=True, frozen=True):
    """The ``routing:`` section.

    ``data_classes``: request data class -> the deployment classes it may reach, laid over
    :data:`DEFAULT_REACH`. ``undeclared``: the class of a request that declares none: the key's
    ceiling (``ceiling``, cautious: the key may send data up to it) or ``public``; a key without
    a ceiling (the master key) makes undeclared requests public either way.
    ``shadow_log``: how many shadow comparisons to keep for ``GET /routing/shadow``.
    """

    data_classes: dict[DataClass, list[DeploymentClass]] = {}
    undeclared: Literal["ceiling", "public"] = "ceiling"
    shadow_log: Annotated[int, Meta(ge=1, le=100_000)] = 200

    def reach(self) -> dict[str, frozenset[str]]:
        merged: dict[str, tuple[str, ...]] = dict(DEFAULT_REACH)
        merged.update((name, tuple(classes)) for name, classes in self.data_classes.items())
        return {name: frozenset(classes) for name, classes in merged.items()}

    def problems(self) -> list[str]:
        """A more sensitive class must not reach a deployment class a less sensitive one may
        not: that is almost certainly a mistake, and it would leak the more sensitive data."""
        reach = self.reach()
        problems = []
        for lower, higher in itertools.pairwise(DATA_CLASSES):
            extra = sorted(reach[higher] - reach[lower])
            if extra:
                problems.append(
                    f"routing.data_classes.{higher}: reaches {', '.join(extra)}, which {lower} "
                    f"may not; a more sensitive class must not reach more deployment classes"
                )
        return problems


class AliasLike(Protocol):
    """What :func:`check_aliases` reads of an alias (``config.AliasConfig``)."""

    @property
    def deployments(self) -> Sequence[object]: ...

    @property
    def policy(self) -> Policy | None: ...

    @property
    def shadow(self) -> ShadowSettings | None: ...


def targets(policy: Policy | None) -> list[tuple[str, str]]:
    """The aliases a composite policy may route to, as ``(setting path, alias)``."""
    if isinstance(policy, TaskMapPolicy):
        named = [(f"tasks.{task}", alias) for task, alias in policy.tasks.items()]
        return named + ([("default", policy.default)] if policy.default else [])
    if isinstance(policy, TieredPolicy):
        return [("cheap", policy.cheap), ("strong", policy.strong)]
    if isinstance(policy, CascadePolicy):
        named = [(f"tiers[{i}]", alias) for i, alias in enumerate(policy.tiers)]
        return named + ([("verifier", policy.verifier)] if policy.verifier else [])
    return []


def check_aliases(aliases: Mapping[str, AliasLike]) -> list[str]:
    """Every problem of the aliases' policies and shadows, each naming its path and the fix."""
    problems: list[str] = []
    known = ", ".join(aliases)
    for alias, spec in aliases.items():
        where = f"models.{alias}"
        policy = spec.policy
        composite = isinstance(policy, COMPOSITE)
        if composite and spec.deployments:
            problems.append(
                f"{where}.deployments: a {type(policy).__name__} alias routes to other aliases; "
                "remove its deployments"
            )
        if not composite and not spec.deployments:
            problems.append(
                f"{where}.deployments: required; add at least one deployment, or give the alias "
                "a tiered, task_map or cascade policy"
            )
        for setting, target in targets(policy):
            if target == alias:
                problems.append(f"{where}.policy.{setting}: an alias cannot route to itself")
            elif target not in aliases:
                problems.append(
                    f"{where}.policy.{setting}: unknown alias '{target}'; known: {known}"
                )
        problems += _check_policy(where, policy)
        shadow = spec.shadow
        if shadow is not None:
            target_spec = aliases.get(shadow.alias)
            if shadow.alias == alias:
                problems.append(f"{where}.shadow.alias: an alias cannot shadow itself")
            elif target_spec is None:
                problems.append(
                    f"{where}.shadow.alias: unknown alias '{shadow.alias}'; known: {known}"
                )
            elif isinstance(target_spec.policy, CascadePolicy):
                problems.append(
                    f"{where}.shadow.alias: '{shadow.alias}' is a cascade; shadow one of its tiers"
                )
    problems += _cycles(aliases)
    return problems


def _check_policy(where: str, policy: Policy | None) -> list[str]:
    if isinstance(policy, TieredPolicy):
        if (policy.strong_share is None) == (policy.quality is None):
            return [
                f"{where}.policy: set exactly one of strong_share (share of calls to the strong "
                "tier, e.g. 0.3) or quality (share of the strong tier's quality gain, e.g. 0.9)"
            ]
        if policy.model is not None and not Path(policy.model).is_file():
            return [f"{where}.policy.model: file '{policy.model}' not found"]
    if isinstance(policy, CascadePolicy) and (policy.scorer == "verifier") != bool(policy.verifier):
        return [f"{where}.policy.verifier: required with scorer: verifier (and only then)"]
    if isinstance(policy, TaskMapPolicy) and not policy.tasks:
        return [f"{where}.policy.tasks: map at least one task to an alias"]
    return []


def _cycles(aliases: Mapping[str, AliasLike]) -> list[str]:
    """Composite aliases that route back to themselves through others."""
    edges = {
        a: [t for _, t in targets(s.policy) if t in aliases and t != a] for a, s in aliases.items()
    }
    problems: list[str] = []
    done: set[str] = set()

    def visit(alias: str, path: list[str]) -> None:
        if alias in path:
            cycle = [*path[path.index(alias) :], alias]
            problems.append(
                f"models.{alias}.policy: aliases route to each other in a cycle: "
                + " -> ".join(cycle)
            )
            return
        if alias in done:
            return
        for target in edges[alias]:
            visit(target, [*path, alias])
        done.add(alias)

    for alias in aliases:
        visit(alias, [])
    return problems
