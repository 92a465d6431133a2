"""Cost arithmetic, each case computed by hand from the catalog's published prices.

A price of p USD per million tokens is p micro-USD per token, so the expected values below are
simply tokens x price, in micro-USD.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from pointsman.core.types import Usage
from pointsman.governance.catalog import Catalog, ModelInfo
from pointsman.governance.costs import Cost, cost_of, worst_case_cost


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return Catalog.load()


def model(catalog: Catalog, name: str) -> ModelInfo:
    info = catalog.lookup(name)
    assert info is not None
    return info


def test_plain_request(catalog: Catalog) -> None:
    # gpt-4o: $2.50 in, $10 out.  1000 x 2.5 + 500 x 10 = 2500 + 5000
    cost = cost_of(Usage(prompt_tokens=1000, completion_tokens=500), model(catalog, "gpt-4o"))
    assert cost.micros == 7500
    assert cost.usd == Decimal("0.0075")
    assert cost.priced and not cost.long_context and not cost.batch
    assert cost.catalog_version == catalog.version


def test_cached_tokens_are_part_of_the_prompt_not_extra(catalog: Catalog) -> None:
    # gpt-4o, 1000 prompt tokens of which 200 cached ($1.25): 800 x 2.5 + 200 x 1.25 + 500 x 10
    usage = Usage(prompt_tokens=1000, completion_tokens=500, cached_tokens=200)
    cost = cost_of(usage, model(catalog, "gpt-4o"))
    assert (cost.input, cost.cached_input, cost.output) == (2000, 250, 5000)
    assert cost.micros == 7250


def test_anthropic_cache_reads_and_writes(catalog: Catalog) -> None:
    # claude-sonnet-4: $3 in, $3.75 cache write, $0.30 cache read, $15 out.
    # 10_000 prompt = 1000 uncached + 6000 read + 3000 written; 200 out.
    # 1000 x 3 + 6000 x 0.30 + 3000 x 3.75 + 200 x 15 = 3000 + 1800 + 11250 + 3000
    usage = Usage(
        prompt_tokens=10_000, completion_tokens=200, cached_tokens=6000, cache_write_tokens=3000
    )
    cost = cost_of(usage, model(catalog, "claude-sonnet-4"))
    assert (cost.input, cost.cached_input, cost.cache_write, cost.output) == (
        3000,
        1800,
        11250,
        3000,
    )
    assert cost.micros == 19050


def test_reasoning_tokens_are_output_and_never_counted_twice(catalog: Catalog) -> None:
    # o3: $2 in, $8 out. 2000 in; 3000 out of which 2500 reasoning: 4000 + 3000 x 8 = 28000
    o3 = model(catalog, "o3")
    with_reasoning = cost_of(
        Usage(prompt_tokens=2000, completion_tokens=3000, reasoning_tokens=2500), o3
    )
    without = cost_of(Usage(prompt_tokens=2000, completion_tokens=3000), o3)
    assert with_reasoning.micros == without.micros == 28000
    assert (with_reasoning.output, with_reasoning.reasoning) == (500 * 8, 2500 * 8)


def test_a_separate_reasoning_price_applies_to_reasoning_tokens_only() -> None:
    # output $0.60, thinking $3.50: 1000 out of which 800 thinking: 200 x 0.6 + 800 x 3.5
    entry = {
        "source": "t",
        "input": 0.15,
        "output": 0.6,
        "reasoning": 3.5,
        "context_window": 10_000,
        "max_output": 1000,
    }
    models = {"thinker": entry}
    catalog = Catalog.from_mapping(
        {"version": "r", "providers": {"g": {"protocol": "gemini", "models": models}}}
    )
    info = catalog.lookup("thinker")
    cost = cost_of(Usage(prompt_tokens=0, completion_tokens=1000, reasoning_tokens=800), info)
    assert (cost.output, cost.reasoning, cost.micros) == (120, 2800, 2920)
    # reserving: every output token at the dearer reasoning price, 1000 x 3.5
    assert worst_case_cost(0, None, info) == 3500


def test_long_context_tier_prices_the_whole_request(catalog: Catalog) -> None:
    pro = model(catalog, "gemini-2.5-pro")
    # At the threshold: the base tier. 200_000 x 1.25 + 1000 x 10
    at = cost_of(Usage(prompt_tokens=200_000, completion_tokens=1000), pro)
    assert (at.micros, at.long_context) == (260_000, False)
    # Above: 250_000 prompt (50_000 cached). 200_000 x 2.50 + 50_000 x 0.625 + 1000 x 15
    above = cost_of(Usage(prompt_tokens=250_000, completion_tokens=1000, cached_tokens=50_000), pro)
    assert (above.input, above.cached_input, above.output) == (500_000, 31_250, 15_000)
    assert (above.micros, above.long_context) == (546_250, True)


def test_batch_discount(catalog: Catalog) -> None:
    # gpt-4o-mini batch (50 % off): (1_000_000 x 0.15 + 100_000 x 0.60) / 2 = (150000 + 60000) / 2
    usage = Usage(prompt_tokens=1_000_000, completion_tokens=100_000)
    mini = model(catalog, "gpt-4o-mini")
    assert cost_of(usage, mini, batch=True).micros == 105_000
    assert cost_of(usage, mini).micros == 210_000
    # sim-small has no batch discount: the flag changes nothing
    small = model(catalog, "sim-small")
    assert cost_of(usage, small, batch=True).micros == cost_of(usage, small).micros


def test_rounding_is_half_even_on_the_total_only(catalog: Catalog) -> None:
    small = model(catalog, "sim-small")  # $0.05 in, $0.08 out
    # 7 x 0.05 + 3 x 0.08 = 0.35 + 0.24 = 0.59 -> 1
    tiny = cost_of(Usage(prompt_tokens=7, completion_tokens=3), small)
    assert tiny.exact == Decimal("0.59") and tiny.micros == 1
    assert cost_of(Usage(prompt_tokens=10), small).micros == 0  # 0.5 -> 0 (to even)
    assert cost_of(Usage(prompt_tokens=30), small).micros == 2  # 1.5 -> 2 (to even)


def test_inconsistent_cache_counts_never_go_negative(catalog: Catalog) -> None:
    # An adapter reporting more cached tokens than prompt tokens: uncached input is 0.
    cost = cost_of(Usage(prompt_tokens=100, cached_tokens=150), model(catalog, "gpt-4o"))
    assert cost.input == 0 and cost.cached_input == 150 * Decimal("1.25")


def test_unknown_model_is_unpriced_not_an_error(catalog: Catalog) -> None:
    info = catalog.lookup("no-such-model")
    assert info is None
    cost = cost_of(Usage(prompt_tokens=1000, completion_tokens=1000), info)
    assert cost == Cost(micros=0, priced=False)
    assert worst_case_cost(1000, 1000, info) == 0


def test_worst_case_reserves_an_upper_bound(catalog: Catalog) -> None:
    gpt = model(catalog, "gpt-4o")
    # 1000 x 2.5 + 100 x 10
    assert worst_case_cost(1000, 100, gpt) == 3500
    # no max_tokens: the model's max_output (16384) x 10 + 2500
    assert worst_case_cost(1000, None, gpt) == 2500 + 163_840
    # a request asking for more than the model can produce is capped at max_output
    assert worst_case_cost(1000, 10**9, gpt) == 2500 + 163_840
    # Anthropic: every prompt token might be a cache write ($3.75 > $3): 1000 x 3.75 + 100 x 15
    assert worst_case_cost(1000, 100, model(catalog, "claude-sonnet-4")) == 5250
    # long context: 300_000 x 2.5 + 1000 x 15
    assert worst_case_cost(300_000, 1000, model(catalog, "gemini-2.5-pro")) == 765_000
    # batch: half of 3500
    assert worst_case_cost(1000, 100, gpt, batch=True) == 1750
    # rounds up: 7 x 0.05 + 3 x 0.08 = 0.59 -> 1
    assert worst_case_cost(7, 3, model(catalog, "sim-small")) == 1


@pytest.mark.parametrize("name", ["sim-small", "gpt-4o", "claude-haiku-4-5", "gemini-2.5-pro"])
def test_actual_cost_never_exceeds_the_reservation(catalog: Catalog, name: str) -> None:
    info = model(catalog, name)
    for prompt, cached, written, out, reasoning in [
        (1000, 0, 0, 100, 0),
        (1000, 900, 0, 100, 50),
        (1000, 0, 1000, 100, 100),
        (250_000, 10_000, 0, 1000, 500),
    ]:
        usage = Usage(
            prompt_tokens=prompt,
            completion_tokens=out,
            cached_tokens=cached,
            cache_write_tokens=written,
            reasoning_tokens=reasoning,
        )
        assert cost_of(usage, info).micros <= worst_case_cost(prompt, out, info)
