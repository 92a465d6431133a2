"""A request reserves the worst case of every deployment its fallbacks may call."""

from __future__ import annotations

from pointsman.core.pipeline import RequestContext
from pointsman.governance.accounting import Pricing, fallback_reach
from pointsman.governance.catalog import Catalog
from tests.unit.routing.parts import build, chat

CATALOG = Catalog.load()
SMALL = [{"provider": "p", "model": "sim-small"}]
LARGE = [{"provider": "p", "model": "sim-large"}]


def test_a_fallback_to_a_dearer_alias_is_in_the_reservation() -> None:
    parts = build(
        {
            "cheap": {"deployments": SMALL, "fallbacks": ["middle"]},
            "middle": {"deployments": SMALL, "on_content_policy": "dear"},  # reached transitively
            "dear": LARGE,
        }
    )
    assert parts.config is not None
    plain = Pricing(CATALOG)
    reaching = Pricing(CATALOG, fallback_reach(parts.config, parts.router))

    def resolved(alias: str) -> RequestContext:
        ctx = chat(alias, max_tokens=100)  # a fresh context: the estimate is memoised on it
        parts.router.resolve(ctx, alias)
        return ctx

    assert plain.estimate(resolved("dear")) > plain.estimate(resolved("cheap"))
    assert reaching.estimate(resolved("cheap")) == plain.estimate(resolved("dear"))


def test_aliases_without_fallbacks_reserve_their_own_candidates_only() -> None:
    parts = build({"cheap": SMALL, "dear": LARGE})
    assert parts.config is not None
    assert fallback_reach(parts.config, parts.router) == {}
