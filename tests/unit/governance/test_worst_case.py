"""The integer fast path for reservations equals the Decimal reference, for every catalog model."""

from __future__ import annotations

import math

from hypothesis import given, settings
from hypothesis import strategies as st

from pointsman.governance.accounting import WorstCase
from pointsman.governance.catalog import Catalog
from pointsman.governance.costs import worst_case_cost

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
