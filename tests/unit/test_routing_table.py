"""Weighted candidate order and the Resolve stage's errors."""

from __future__ import annotations

import random
from collections import Counter

import pytest

from pointsman.config import ProviderConfig
from pointsman.core.pipeline import Caller, RequestContext
from pointsman.errors import NotFoundError, PermissionDeniedError
from pointsman.providers.openai import OpenAIProvider
from pointsman.routing.table import Deployment, Resolve, RouteTable

PROVIDER = OpenAIProvider("sim", ProviderConfig(protocol="openai", base_url="http://x/v1"))


def table() -> RouteTable:
    return RouteTable(
        {
            "one": [Deployment(PROVIDER, "a")],
            "split": [
                Deployment(PROVIDER, "a", 9),
                Deployment(PROVIDER, "b", 1),
                Deployment(PROVIDER, "c", 0),
            ],
        }
    )


def test_weights_decide_the_first_candidate() -> None:
    rng = random.Random(1)
    firsts = Counter(table().candidates("split", rng)[0].model for _ in range(10_000))
    assert 0.88 < firsts["a"] / 10_000 < 0.92
    assert firsts["c"] == 0  # weight 0: only ever a fallback


def test_every_deployment_stays_in_the_list() -> None:
    for _ in range(50):
        assert sorted(d.model for d in table().candidates("split")) == ["a", "b", "c"]


async def test_unknown_alias_lists_the_available_ones() -> None:
    ctx = RequestContext("r", "chat", {}, {}, alias="nope")
    with pytest.raises(NotFoundError) as caught:
        await Resolve(table()).on_request(ctx)
    assert caught.value.param == "model"
    assert "one, split" in caught.value.message


async def test_caller_scope_is_enforced() -> None:
    caller = Caller("k1", "team key", aliases=frozenset({"one"}))
    ctx = RequestContext("r", "chat", {}, {}, alias="split", caller=caller)
    with pytest.raises(PermissionDeniedError):
        await Resolve(table()).on_request(ctx)
