"""The ``reliability:`` section of the config, and the per-provider health-check settings.

::

    reliability:
      retry:   {same_deployment: 1, attempts_per_alias: 3, backoff_base: 0.2, backoff_max: 2.0,
                max_wait: 1.0}
      budget:  {ratio: 0.2, min_per_window: 100, window: 10}   # global retry budget
      breaker: {consecutive_failures: 5, error_rate: 0.5, min_requests: 20, window: 30,
                cooldown: 10, max_cooldown: 300, stable_after: 60}
      health_check: {enabled: true, probe: models, interval: 30, timeout: 5}
      hedge_after: null          # seconds without a first token before a parallel attempt
      sync_interval: 1.0         # how often replicas read each other's breaker openings

Per provider, ``timeouts: {ttft, idle, total}`` and ``health_check:`` (same fields as above,
overriding the global one); per alias, ``fallbacks``, ``on_context_window_exceeded``,
``on_content_policy`` and ``hedge_after`` (see ``config.AliasConfig``).

This module imports nothing from the rest of the package so that ``config.py`` can use it.
"""

from __future__ import annotations

from typing import Annotated, Literal

from msgspec import Meta, Struct, field

Seconds = Annotated[float, Meta(gt=0, le=86_400)]


class RetrySettings(Struct, forbid_unknown_fields=True, omit_defaults=True, frozen=True):
    """How one request retries.

    ``same_deployment``: retries of one deployment after a retryable error (429, 5xx, connection
    error) before falling back to the next; timeouts are never retried on the same deployment.
    ``attempts_per_alias``: calls at most per alias of the chain (each fallback alias has its own).
    Backoff is exponential with full jitter: ``uniform(0, min(backoff_max, backoff_base *
    2**(n-1)))`` before the n-th retry, or the upstream's Retry-After when longer. A wait longer
    than ``max_wait`` is not taken: the request falls back at once instead.
    """

    same_deployment: Annotated[int, Meta(ge=0, le=10)] = 1
    attempts_per_alias: Annotated[int, Meta(ge=1, le=50)] = 3
    backoff_base: Seconds = 0.2
    backoff_max: Seconds = 2.0
    max_wait: Annotated[float, Meta(ge=0, le=300)] = 1.0


class BudgetSettings(Struct, forbid_unknown_fields=True, omit_defaults=True, frozen=True):
    """The global retry budget: extra attempts (retries, fallbacks after a failure, hedges) over
    the last ``window`` seconds may not exceed ``ratio`` x requests + ``min_per_window``.

    The defaults are Finagle's: 20 % of traffic, plus 10 per second so that a quiet gateway can
    still retry.
    """

    ratio: Annotated[float, Meta(ge=0, le=10)] = 0.2
    min_per_window: Annotated[int, Meta(ge=0)] = 100
    window: Seconds = 10.0


class BreakerSettings(Struct, forbid_unknown_fields=True, omit_defaults=True, frozen=True):
    """Per-deployment circuit breakers.

    Open after ``consecutive_failures`` failures in a row, or when at least ``min_requests``
    outcomes in the last ``window`` seconds hold an ``error_rate`` share of failures. Stay open
    ``cooldown`` seconds, then let one probe through (half-open); close on its success.
    Hysteresis: a breaker that re-opens within ``stable_after`` seconds of closing (or whose
    probe fails) doubles its cooldown, up to ``max_cooldown``.
    """

    consecutive_failures: Annotated[int, Meta(ge=1)] = 5
    error_rate: Annotated[float, Meta(gt=0, le=1)] = 0.5
    min_requests: Annotated[int, Meta(ge=1)] = 20
    window: Seconds = 30.0
    cooldown: Seconds = 10.0
    max_cooldown: Seconds = 300.0
    stable_after: Seconds = 60.0


class HealthCheckSettings(Struct, forbid_unknown_fields=True, omit_defaults=True, frozen=True):
    """Active health checks of a provider's deployments.

    ``probe: models`` lists the provider's models once per interval (free; detects a provider
    that is unreachable or failing, but cannot tell that one model is down, so it never closes
    a breaker). ``probe: chat`` sends each deployment a one-token chat request (costs a token;
    detects a down model and closes its breaker when it is back).
    """

    enabled: bool = True
    probe: Literal["models", "chat"] = "models"
    interval: Seconds = 30.0
    timeout: Seconds = 5.0


class ReliabilitySettings(Struct, forbid_unknown_fields=True, omit_defaults=True, frozen=True):
    retry: RetrySettings = field(default_factory=RetrySettings)
    budget: BudgetSettings = field(default_factory=BudgetSettings)
    breaker: BreakerSettings = field(default_factory=BreakerSettings)
    health_check: HealthCheckSettings = field(default_factory=HealthCheckSettings)
    hedge_after: Seconds | None = None
    sync_interval: Seconds = 1.0

    def problems(self) -> list[str]:
        """Cross-field checks that types cannot express, each naming its path and the fix."""
        problems: list[str] = []
        if self.retry.backoff_base > self.retry.backoff_max:
            problems.append(
                "reliability.retry.backoff_base: larger than backoff_max "
                f"({self.retry.backoff_base} > {self.retry.backoff_max}); lower it"
            )
        if self.breaker.cooldown > self.breaker.max_cooldown:
            problems.append(
                "reliability.breaker.cooldown: larger than max_cooldown "
                f"({self.breaker.cooldown} > {self.breaker.max_cooldown}); lower it"
            )
        return problems
