"""The integer fast paths (reservations, actual costs) equal the Decimal reference, for every
catalog model."""

from __future__ import annotations

import math

from hypothesis import given, settings
from hypothesis import strategies as st

from pointsman.core.types import Usage
from pointsman.governance.accounting import ExactRates, WorstCase
from pointsman.governance.catalog import Catalog
from pointsman.governance.costs import cost_of, worst_case_cost

CATALOG = Catalog.load()
MODELS = list(CATALOG)


@settings(max_examples=400, deadline=None)
@given(
    index=st.integers(0, len(MODELS) - 1),
    prompt=st.integers(0, 2_000_000),
    cap=st.none() | st.integers(0, 200_000),
)
def test_fast_worst_case_equals_reference(index: int, prompt: int, cap: int | None) -> None:
    info = MODELS[index]
    fast = WorstCase.of(info)
    assert fast is not None, f"{info.name}: a price with more than six decimals"
    assert fast.cost(prompt, cap) == worst_case_cost(prompt, cap, info)


@settings(max_examples=100, deadline=None)
@given(prompt=st.integers(0, 10_000), cap=st.integers(1, 4096), choices=st.integers(1, 8))
def test_n_choices_reserve_n_answers(prompt: int, cap: int, choices: int) -> None:
    info = MODELS[0]
    fast = WorstCase.of(info)
    assert fast is not None
    rates = info.rates(prompt)
    outputs = min(cap, info.max_output or cap) * choices
    exact = prompt * max(rates.input, rates.cache_write) + outputs * max(
        rates.output, rates.reasoning
    )
    assert fast.cost(prompt, cap, choices) == math.ceil(exact)


@settings(max_examples=600, deadline=None)
@given(
    index=st.integers(0, len(MODELS) - 1),
    prompt=st.integers(0, 2_000_000),
    cached=st.integers(0, 2_000_000),
    written=st.integers(0, 500_000),
    completion=st.integers(0, 200_000),
    reasoning=st.integers(0, 250_000),
)
def test_fast_actual_cost_equals_reference(
    index: int, prompt: int, cached: int, written: int, completion: int, reasoning: int
) -> None:
    """Cached, cache-write and reasoning tokens, long-context tiers and half-even rounding."""
    info = MODELS[index]
    fast = ExactRates.of(info)
    assert fast is not None, f"{info.name}: a price with more than six decimals"
    usage = Usage(
        prompt_tokens=prompt,
        completion_tokens=completion,
        cached_tokens=cached,
        cache_write_tokens=written,
        reasoning_tokens=reasoning,
    )
    assert fast.cost(usage) == cost_of(usage, info).micros


def test_fast_actual_cost_rounds_half_to_even() -> None:
    """At 0.5 micro-USD a token: 0.5 -> 0, 1.5 -> 2, 2.5 -> 2 (half-up would say 1, 2, 3)."""
    half = ExactRates(low=(500_000, 0, 0, 0, 0), high=None, threshold=None)
    costs = [half.cost(Usage(prompt_tokens=n)) for n in (1, 3, 5, 7)]
    assert costs == [0, 2, 2, 4]
