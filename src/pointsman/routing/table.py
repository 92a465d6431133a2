"""Aliases → deployments, and the :class:`Resolve` stage that orders candidates for a request."""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass

from pointsman.config import Config
from pointsman.core.pipeline import RequestContext, Stage
from pointsman.errors import NotFoundError, PermissionDeniedError
from pointsman.providers.base import Provider


@dataclass(slots=True, frozen=True)
class Deployment:
    """One model at one provider, as an alias lists it."""

    provider: Provider
    model: str
    weight: float = 1.0
    data_class: str = "closed_api"  # where the data goes (config DeploymentConfig.data_class)

    @property
    def name(self) -> str:
        return f"{self.provider.name}/{self.model}"


@dataclass(slots=True, frozen=True)
class Exclusion:
    """A deployment a request may not use, and why (``reason``: data_class, context,
    capability, output ...; ``detail``: the human-readable sentence)."""

    deployment: str
    reason: str
    detail: str


class RouteTable:
    """The deployments behind each alias, built once per config snapshot."""

    def __init__(self, aliases: Mapping[str, list[Deployment]]) -> None:
        self.aliases = dict(aliases)

    @classmethod
    def from_config(cls, config: Config, providers: Mapping[str, Provider]) -> RouteTable:
        return cls(
            {
                alias: [
                    Deployment(providers[d.provider], d.model, d.weight, d.data_class)
                    for d in spec.deployments
                ]
                for alias, spec in config.aliases().items()
            }
        )

    def candidates(self, alias: str, rng: random.Random | None = None) -> list[Deployment]:
        """Deployments in the order to try them: one drawn by weight first, then by weight.

        Raises KeyError for an unknown alias.
        """
        deployments = self.aliases[alias]
        if len(deployments) == 1:
            return deployments
        draw = (rng or random).random() * sum(d.weight for d in deployments)
        first = deployments[-1]
        for deployment in deployments:
            draw -= deployment.weight
            if draw < 0:
                first = deployment
                break
        rest = sorted((d for d in deployments if d is not first), key=lambda d: -d.weight)
        return [first, *rest]

    def select(self, ctx: RequestContext, alias: str) -> tuple[list[Deployment], list[Exclusion]]:
        """The deployments of ``alias`` that may serve ``ctx``, in the order to try them, and the
        ones excluded, with why. Every place that picks deployments for a request calls this
        (resolve, downgrade, the reliability walk's fallbacks), so constraints hold everywhere.

        This plain table excludes nothing; :class:`pointsman.routing.router.Router` overrides it
        with constraints and the alias's policy. Raises KeyError for an unknown alias.
        """
        return self.candidates(alias), []

    def resolve(self, ctx: RequestContext, alias: str) -> None:
        """Set ``ctx.candidates`` for ``alias`` (the requested alias, or a downgrade's target).

        Raises KeyError for an unknown alias; the router raises a
        :class:`~pointsman.errors.PointsmanError` when it excludes every candidate.
        """
        ctx.candidates = self.candidates(alias)


class Resolve(Stage):
    """Turns the requested alias into the ordered candidate list."""

    name = "resolve"

    def __init__(self, table: RouteTable) -> None:
        self.table = table

    async def on_request(self, ctx: RequestContext) -> None:
        alias = ctx.alias
        caller = ctx.caller
        if alias not in self.table.aliases:
            allowed = [a for a in self.table.aliases if caller is None or caller.may_use(a)]
            raise NotFoundError(
                f"The model '{alias}' does not exist; available models: {', '.join(allowed)}",
                param="model",
                code="model_not_found",
            )
        if caller is not None and not caller.may_use(alias):
            raise PermissionDeniedError(
                f"This key may not use the model '{alias}'",
                param="model",
                code="model_not_allowed",
            )
        self.table.resolve(ctx, alias)
