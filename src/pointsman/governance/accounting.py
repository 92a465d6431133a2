"""What each request costs, and the usage record that says so.

:class:`Pricing` prices requests from the catalog: a worst case before dispatch (for budget
reservations: the dearest candidate, the prompt estimate, and the output cap, or the model's
maximum output when the request sets none) and the actual cost after it, from the upstream's
usage. Both are memoised on the context, so the stages that need them (rate limits, budgets,
accounting) price each request once.

:class:`Accounting` is the pipeline stage that turns a finished request into a
:class:`~pointsman.store.records.UsageRecord` and hands it to the batched writer: never a
database round-trip on the request path.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING

from pointsman.config import Config
from pointsman.core.pipeline import RequestContext, Stage
from pointsman.core.tokens import estimate_prompt_tokens, estimate_text_tokens
from pointsman.core.types import Usage
from pointsman.governance.catalog import Catalog, ModelInfo
from pointsman.governance.costs import cost_of, worst_case_cost
from pointsman.governance.enforce import subjects_of
from pointsman.store.records import UsageRecord, ledger_ids

if TYPE_CHECKING:
    from pointsman.routing.table import Deployment, RouteTable
    from pointsman.store.usage_writer import UsageWriter

# Real tokenizers can count more tokens than the 4-characters-per-token estimate; reserving
# against 1.2x the estimate keeps actual spend under a hard budget for ordinary text.
PROMPT_MARGIN = 1.2
_PROMPT = "pricing.prompt"
_ESTIMATE = "pricing.estimate"
_ACTUAL = "pricing.actual"
# Routing records here the billed calls of a request besides the answer it served (a cascade's
# rejected cheap answers, a verifier's verdicts) as (deployment, usage) pairs ...
STEPS = "routing.steps"
# ... and the further calls it may make, for the reservation: (deployments, extra prompt
# tokens, output cap or None for the request's own, answers per call).
RESERVE = "routing.reserve"


SCALE = 1_000_000  # prices (USD per million tokens = micro-USD per token) as integers


def _scaled(prices: list[Decimal]) -> list[int] | None:
    """Prices (USD per million tokens) as exact integers scaled by :data:`SCALE`; None when one
    has more than six decimals."""
    values = [price * SCALE for price in prices]
    if any(value != int(value) for value in values):
        return None
    return [int(value) for value in values]


@dataclass(frozen=True, slots=True)
class WorstCase:
    """A model's worst-case rates as scaled integers, for exact integer arithmetic.

    Equal to :func:`~pointsman.governance.costs.worst_case_cost` (tested), at a fraction of its
    cost: the reservation is priced on every request.
    """

    input: int  # max(input, cache write), scaled
    output: int  # max(output, reasoning), scaled
    max_output: int | None
    tier_threshold: int | None = None
    tier_input: int = 0
    tier_output: int = 0

    @classmethod
    def of(cls, info: ModelInfo) -> WorstCase | None:
        """None when a price has more than six decimals (the caller falls back to Decimal)."""
        low, high = info.rates(0), None
        if info.long_context is not None:
            high = info.rates(info.long_context.threshold + 1)
        prices = [max(low.input, low.cache_write), max(low.output, low.reasoning)]
        if high is not None:
            prices += [max(high.input, high.cache_write), max(high.output, high.reasoning)]
        ints = _scaled(prices)
        if ints is None:
            return None
        tier = info.long_context.threshold if info.long_context is not None else None
        high_in, high_out = ints[2:] or [0, 0]
        return cls(ints[0], ints[1], info.max_output, tier, high_in, high_out)

    def cost(self, prompt_tokens: int, max_output: int | None, choices: int = 1) -> int:
        """Micro-USD, rounded up, for a prompt and ``choices`` answers of ``max_output``."""
        outputs = (
            self.max_output
            if max_output is None
            else min(max_output, self.max_output or max_output)
        )
        outputs = (outputs or 0) * choices
        high = self.tier_threshold is not None and prompt_tokens > self.tier_threshold
        rate_in, rate_out = (
            (self.tier_input, self.tier_output) if high else (self.input, self.output)
        )
        total = prompt_tokens * rate_in + outputs * rate_out
        return -(-total // SCALE)  # ceiling division: never under the worst case


@dataclass(frozen=True, slots=True)
class ExactRates:
    """A model's five prices (and its long-context tier's) as scaled integers.

    Equal to :func:`~pointsman.governance.costs.cost_of` (tested against it for every catalog
    model), without Decimal arithmetic: the actual cost is priced on every request.
    """

    low: tuple[int, ...]  # input, cached input, cache write, output, reasoning
    high: tuple[int, ...] | None  # the same above the long-context threshold
    threshold: int | None

    @classmethod
    def of(cls, info: ModelInfo) -> ExactRates | None:
        """None when a price has more than six decimals (the caller falls back to Decimal)."""
        tier = info.long_context
        tiers = [info.rates(0)] + ([] if tier is None else [info.rates(tier.threshold + 1)])
        scaled = [
            _scaled([r.input, r.cached_input, r.cache_write, r.output, r.reasoning]) for r in tiers
        ]
        if any(ints is None for ints in scaled):
            return None
        low, *high = (tuple(ints) for ints in scaled if ints is not None)
        return cls(low, high[0] if high else None, None if tier is None else tier.threshold)

    def cost(self, usage: Usage) -> int:
        """Micro-USD, rounded half to even like :func:`cost_of`."""
        prompt = usage.prompt_tokens
        high = self.threshold is not None and prompt > self.threshold
        rate_in, rate_cached, rate_write, rate_out, rate_reasoning = (
            self.high if high and self.high is not None else self.low
        )
        cached, written = usage.cached_tokens, usage.cache_write_tokens
        reasoning = min(usage.reasoning_tokens, usage.completion_tokens)
        total = (
            max(prompt - cached - written, 0) * rate_in
            + cached * rate_cached
            + written * rate_write
            + (usage.completion_tokens - reasoning) * rate_out
            + reasoning * rate_reasoning
        )
        whole, rest = divmod(total, SCALE)
        if 2 * rest > SCALE or (2 * rest == SCALE and whole % 2):
            whole += 1
        return whole


def fallback_reach(config: Config, routes: RouteTable) -> dict[str, tuple[Deployment, ...]]:
    """Per alias, the deployments its fallbacks and redirects may call, transitively.

    A request reserves the worst case of every deployment it may reach: a fallback to a dearer
    alias after the requested one failed must not cost more than was reserved. (A superset of
    what the reliability walk tries, so never an under-reservation.)
    """
    reach: dict[str, tuple[Deployment, ...]] = {}
    aliases = config.aliases()
    for alias in aliases:
        seen, queue = {alias}, [alias]
        found: list[Deployment] = []
        while queue:
            spec = aliases.get(queue.pop())
            if spec is None:
                continue
            redirects = (spec.on_context_window_exceeded, spec.on_content_policy)
            for target in (*spec.fallbacks, *redirects):
                if target and target not in seen:
                    seen.add(target)
                    queue.append(target)
                    found.extend(routes.aliases.get(target, ()))
        if found:
            reach[alias] = tuple(found)
    return reach


class Pricing:
    """Prices requests with one catalog (one config snapshot's, overrides included).

    ``reach`` (:func:`fallback_reach`) adds each alias's fallback deployments to its worst case.
    """

    def __init__(
        self, catalog: Catalog, reach: Mapping[str, tuple[Deployment, ...]] | None = None
    ) -> None:
        self.catalog = catalog
        self.reach = reach or {}
        self._info: dict[str, ModelInfo | None] = {}
        self._worst: dict[str, WorstCase | None] = {}
        self._exact: dict[str, ExactRates | None] = {}

    def cost(self, deployment: Deployment, usage: Usage) -> int:
        """Micro-USD ``usage`` cost at ``deployment`` (0 for an unpriced model)."""
        name = deployment.name
        if name not in self._exact:
            info = self.info(deployment)
            self._exact[name] = ExactRates.of(info) if info is not None else None
        exact = self._exact[name]
        if exact is not None:
            return exact.cost(usage)
        return cost_of(usage, self.info(deployment)).micros  # unpriced, or > 6 decimals

    def worst_case(
        self, deployment: Deployment, prompt_tokens: int, cap: int | None, choices: int = 1
    ) -> int:
        """Micro-USD a call to ``deployment`` may cost at most (0 for an unpriced model)."""
        name = deployment.name
        if name not in self._worst:
            info = self.info(deployment)
            self._worst[name] = WorstCase.of(info) if info is not None else None
        fast = self._worst[name]
        if fast is not None:
            return fast.cost(prompt_tokens, cap, choices)
        info = self.info(deployment)  # a price with more than six decimals: exact Decimals
        prompt_part = worst_case_cost(prompt_tokens, 0, info)
        return prompt_part + choices * worst_case_cost(0, cap, info)

    def info(self, deployment: Deployment) -> ModelInfo | None:
        name = deployment.name
        if name not in self._info:
            self._info[name] = self.catalog.lookup(deployment.model, deployment.provider.protocol)
        return self._info[name]

    @staticmethod
    def prompt_tokens(ctx: RequestContext) -> int:
        """The prompt's estimated tokens (memoised on ``ctx``)."""
        cached = ctx.notes.get(_PROMPT)
        if cached is not None:
            return int(cached)
        tokens = 0
        if ctx.chat is not None:
            tokens = estimate_prompt_tokens(ctx.chat.messages, ctx.chat.tools)
        elif ctx.embedding is not None:
            given = ctx.embedding.input
            texts = [given] if isinstance(given, str) else given
            tokens = sum(estimate_text_tokens(t) if isinstance(t, str) else 1 for t in texts)
        ctx.notes[_PROMPT] = tokens
        return tokens

    def tokens(self, ctx: RequestContext) -> int:
        """Tokens a request may use, for TPM limits: prompt estimate plus its output cap."""
        cap = ctx.chat.output_limit if ctx.chat is not None else None
        return self.prompt_tokens(ctx) + (cap or 0)

    def estimate(self, ctx: RequestContext) -> int:
        """Worst-case micro-USD over every candidate, plus the dearest candidate of each further
        call routing reserved (``RESERVE``: a cascade's later tiers; memoised on ``ctx``)."""
        cached = ctx.notes.get(_ESTIMATE)
        if cached is not None:
            return int(cached)
        prompt = int(self.prompt_tokens(ctx) * PROMPT_MARGIN) + 1
        chat = ctx.chat
        cap = chat.output_limit if chat is not None else 0
        choices = (chat.n or 1) if chat is not None else 1  # n answers: n times the output
        reachable = self.reach.get(ctx.alias, ())
        worst = max(
            (self.worst_case(d, prompt, cap, choices) for d in (*ctx.candidates, *reachable)),
            default=0,
        )
        for deployments, extra, step_cap, answers in ctx.notes.get(RESERVE, ()):
            step = cap if step_cap is None else step_cap
            worst += max(
                (self.worst_case(d, prompt + extra, step, answers) for d in deployments), default=0
            )
        ctx.notes[_ESTIMATE] = worst
        return worst

    def actual(self, ctx: RequestContext) -> int:
        """Micro-USD of what was served plus every extra billed call routing recorded (``STEPS``;
        0 when nothing was served or called; memoised on ``ctx``)."""
        cached = ctx.notes.get(_ACTUAL)
        if cached is not None:
            return int(cached)
        cost = 0
        if ctx.deployment is not None and ctx.usage is not None:
            cost = self.cost(ctx.deployment, ctx.usage)
        for deployment, usage in ctx.notes.get(STEPS, ()):
            cost += self.cost(deployment, usage)
        ctx.notes[_ACTUAL] = cost
        return cost


class Accounting(Stage):
    """Records every request that got past the gates: its usage, cost and outcome."""

    name = "accounting"

    def __init__(self, pricing: Pricing, writer: UsageWriter) -> None:
        self.pricing = pricing
        self.writer = writer

    async def on_complete(self, ctx: RequestContext) -> None:
        if not ctx.attempts and ctx.result is None:
            return  # refused before dispatch (rate limit, budget): nothing was served or spent
        deployment = ctx.deployment
        who = subjects_of(ctx)
        finished = ctx.finished_at or time.perf_counter()
        record_id, client_id = ledger_ids(ctx)
        record = UsageRecord.from_usage(
            record_id,
            ctx.alias,
            ctx.usage if deployment is not None else Usage(),
            cost_micros=self.pricing.actual(ctx),
            catalog_version=self.pricing.catalog.version,
            status="ok" if ctx.error is None else (ctx.error.code or type(ctx.error).__name__),
            # An answer without a call: the cache served it at zero provider cost (what it
            # saved is counted by the cache: GET /admin/v1/cache/stats).
            cache_hit=not ctx.attempts and deployment is None,
            latency_ms=round((finished - ctx.started) * 1000),
            ttft_ms=None
            if ctx.first_token_at is None
            else round((ctx.first_token_at - ctx.started) * 1000),
            org_id=who.org,
            team_id=who.team,
            key_id=who.key,
            user_id=who.user,
            feature=who.feature,
            deployment=deployment.name if deployment else None,
            provider=deployment.provider.name if deployment else None,
            model=deployment.model if deployment else None,
            client_request_id=client_id,
        )
        if not self.writer.submit(record):  # queue full: wait for room rather than lose it
            await self.writer.put(record)
