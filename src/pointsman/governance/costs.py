"""What a request cost, computed exactly from its usage and the catalog's prices.

Money unit: **integer micro-USD** everywhere a cost is stored, counted or compared
(``1 USD == 1_000_000``). Integers add exactly, fit Redis ``INCRBY`` and SQL ``BIGINT`` counters,
and never drift like floats. A catalog price of *p* USD per million tokens is exactly *p*
micro-USD per token, so every component is computed exactly as a :class:`~decimal.Decimal`
and the total is rounded once, half-to-even, to whole micro-USD (:attr:`Cost.micros`).
Reservations (:func:`worst_case_cost`) round *up*, so they never under-reserve.

How :class:`~pointsman.core.types.Usage` is read (the OpenAI convention; adapters for other
protocols must normalise to it):

* ``prompt_tokens`` is *every* input token, including cache reads and cache writes
  (Anthropic reports ``input_tokens`` without them: its adapter adds ``cache_read_input_tokens``
  and ``cache_creation_input_tokens``; Gemini's ``promptTokenCount`` already includes cached).
* ``cached_tokens`` (cache reads) and ``cache_write_tokens`` are *parts* of ``prompt_tokens``,
  billed at the cached-read and cache-write prices; the rest is billed as uncached input. If an
  adapter reports more cached+written tokens than prompt tokens, uncached input is taken as 0.
* ``reasoning_tokens`` are a *part* of ``completion_tokens`` (OpenAI, Anthropic thinking;
  Gemini's adapter adds ``thoughtsTokenCount``). They are billed at the output price unless the
  catalog gives a separate ``reasoning`` price; they are never counted twice.
* Long context: when ``prompt_tokens`` exceeds the model's tier threshold, the whole request
  (input, cache and output) is billed at the tier's prices, as Google bills.
* Batch: ``batch=True`` takes the model's ``batch_discount`` off every component.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal

from pointsman.core.types import Usage
from pointsman.governance.catalog import ModelInfo

__all__ = ["MICROS_PER_USD", "Cost", "cost_of", "worst_case_cost"]

MICROS_PER_USD = 1_000_000
_ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)
class Cost:
    """The cost of one request. Component fields are exact micro-USD before rounding.

    ``priced`` is False when the model is not in the catalog: then every amount is 0 and the
    caller should flag the record (an unpriced model is a hole in budget enforcement).
    """

    micros: int
    input: Decimal = _ZERO
    cached_input: Decimal = _ZERO
    cache_write: Decimal = _ZERO
    output: Decimal = _ZERO
    reasoning: Decimal = _ZERO
    long_context: bool = False
    batch: bool = False
    priced: bool = True
    catalog_version: str = ""

    @property
    def exact(self) -> Decimal:
        """The unrounded total in micro-USD."""
        return self.input + self.cached_input + self.cache_write + self.output + self.reasoning

    @property
    def usd(self) -> Decimal:
        """The rounded total in USD, for display."""
        return Decimal(self.micros) / MICROS_PER_USD


def cost_of(usage: Usage, info: ModelInfo | None, *, batch: bool = False) -> Cost:
    """The exact cost of ``usage`` at ``info``'s prices (see the module docstring for the rules).

    ``info`` None (a model the catalog does not know) gives an unpriced zero :class:`Cost`.
    Pure and allocation-light: safe to call on the hot path.
    """
    if info is None:
        return Cost(micros=0, priced=False, batch=batch)
    rates = info.rates(usage.prompt_tokens)
    cached = usage.cached_tokens
    written = usage.cache_write_tokens
    uncached = max(usage.prompt_tokens - cached - written, 0)
    reasoning = min(usage.reasoning_tokens, usage.completion_tokens)
    factor = 1 - info.batch_discount if batch else Decimal(1)
    parts = (
        uncached * rates.input * factor,
        cached * rates.cached_input * factor,
        written * rates.cache_write * factor,
        (usage.completion_tokens - reasoning) * rates.output * factor,
        reasoning * rates.reasoning * factor,
    )
    total = sum(parts, _ZERO)
    return Cost(
        micros=int(total.to_integral_value(rounding=ROUND_HALF_EVEN)),
        input=parts[0],
        cached_input=parts[1],
        cache_write=parts[2],
        output=parts[3],
        reasoning=parts[4],
        long_context=rates.long_context,
        batch=batch,
        catalog_version=info.catalog_version,
    )


def worst_case_cost(
    prompt_tokens_estimate: int,
    max_output: int | None,
    info: ModelInfo | None,
    *,
    batch: bool = False,
) -> int:
    """An upper bound in micro-USD (rounded up) for a request, to reserve against a budget.

    Every prompt token is priced at the dearest input price (uncached input, or cache write
    where that costs more) and every output token at the dearer of output and reasoning; the
    long-context tier applies when the estimate exceeds its threshold. ``max_output`` None means
    the model's own ``max_output``. An unknown model (``info`` None) reserves 0.
    """
    if info is None:
        return 0
    outputs = (
        info.max_output if max_output is None else min(max_output, info.max_output or max_output)
    )
    rates = info.rates(prompt_tokens_estimate)
    factor = 1 - info.batch_discount if batch else Decimal(1)
    total = (
        prompt_tokens_estimate * max(rates.input, rates.cache_write)
        + outputs * max(rates.output, rates.reasoning)
    ) * factor
    return math.ceil(total)
