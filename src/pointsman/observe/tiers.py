"""Routing tiers of deployments: which are the expensive models, for "model utilization".

A deployment's tier comes from ``observe.tiers`` when the config names it (by deployment,
``provider/model``, or by bare model name); otherwise from its catalog price, relative to the
dearest deployment of the config: blended price (input + output per million tokens) at least
half the dearest's is ``premium``, at least a tenth ``standard``, below that ``economy``.
Deployments the catalog does not price are ``unpriced``. The *top tier* is the tier of the
dearest deployment: the dashboard's model utilization is the share of answers served there.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from decimal import Decimal

from pointsman.governance.catalog import ModelInfo
from pointsman.routing.table import Deployment

PREMIUM_SHARE = Decimal("0.5")
STANDARD_SHARE = Decimal("0.1")
UNPRICED = "unpriced"


def assign_tiers(
    deployments: Iterable[Deployment],
    info: Callable[[Deployment], ModelInfo | None],
    overrides: Mapping[str, str],
) -> tuple[dict[str, str], str]:
    """``({deployment name: tier}, top tier)`` for a config's deployments."""
    prices: dict[str, Decimal | None] = {}
    for deployment in deployments:
        model = info(deployment)
        prices[deployment.name] = None if model is None else model.input + model.output
    priced = {name: p for name, p in prices.items() if p is not None}
    dearest = max(priced.values(), default=Decimal(0))
    tiers: dict[str, str] = {}
    for name, price in prices.items():
        explicit = overrides.get(name) or overrides.get(name.partition("/")[2])
        if explicit is not None:
            tiers[name] = explicit
        elif price is None:
            tiers[name] = UNPRICED
        elif dearest > 0 and price >= dearest * PREMIUM_SHARE:
            tiers[name] = "premium"
        elif dearest > 0 and price >= dearest * STANDARD_SHARE:
            tiers[name] = "standard"
        else:
            tiers[name] = "economy"
    top = max(priced, key=lambda name: priced[name], default=None)
    return tiers, tiers[top] if top is not None else "premium"
