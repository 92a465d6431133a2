"""What one request's attempt loop ran into, and the error that tells the client when it gives up.

When nothing could serve a request the client gets one clear error naming every deployment
tried or passed over and why, with a ``Retry-After`` for when one may be back:

* 429 ``upstream_rate_limited`` when every obstacle was a rate limit (the client should slow
  down, and SDKs honour the header);
* 422 when no deployment of the chain has the capability the request needs;
* otherwise 503 ``no_healthy_deployment``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from pointsman.errors import (
    PointsmanError,
    ServiceUnavailableError,
    UnprocessableContentError,
    UpstreamRateLimitedError,
)
from pointsman.reliability.board import BREAKER_OPEN, RATE_LIMITED

UNSUPPORTED = "unsupported"
_RATE_CAUSES = frozenset({RATE_LIMITED, "http_429"})
_SKIP_WORDS = {
    BREAKER_OPEN: "circuit breaker open",
    RATE_LIMITED: "rate limited",
    UNSUPPORTED: "lacks the capability",
}


@dataclass(slots=True)
class Obstacle:
    deployment: str
    cause: str
    detail: str  # the error message, or what the skip means
    retry_in: float | None  # seconds until it may serve again, when known
    called: bool  # a call failed (True) or the deployment was passed over (False)
    count: int = 1


@dataclass(slots=True)
class Trail:
    """Failures and skips of one request, in order; repeats of one (deployment, cause) merge."""

    alias: str
    obstacles: list[Obstacle] = field(default_factory=list)
    budget_exhausted: bool = False

    def failed(
        self, deployment: str, cause: str, error: PointsmanError, retry_in: float | None
    ) -> None:
        detail = error.message.removeprefix(f"{deployment}: ")
        self._add(Obstacle(deployment, cause, detail, retry_in, True))

    def skipped(self, deployment: str, cause: str, retry_in: float | None) -> None:
        self._add(Obstacle(deployment, cause, _SKIP_WORDS.get(cause, cause), retry_in, False))

    def _add(self, obstacle: Obstacle) -> None:
        last = self.obstacles[-1] if self.obstacles else None
        if last is not None and (last.deployment, last.cause) == (
            obstacle.deployment,
            obstacle.cause,
        ):
            last.count += 1
            last.detail = obstacle.detail
            last.retry_in = obstacle.retry_in
            return
        self.obstacles.append(obstacle)

    def describe(self) -> str:
        parts = []
        for o in self.obstacles:
            times = f" (x{o.count})" if o.count > 1 else ""
            wait = f", back in {o.retry_in:.1f}s" if o.retry_in and not o.called else ""
            parts.append(f"{o.deployment}: {o.detail}{times}{wait}")
        if self.budget_exhausted:
            parts.append("retry budget exhausted (too many retries gateway-wide; not retried)")
        return "; ".join(parts) or "no deployment configured"

    def retry_after(self) -> int:
        """Whole seconds until some deployment may serve again (at least 1)."""
        waits = [o.retry_in for o in self.obstacles if o.retry_in is not None and o.retry_in > 0]
        return max(1, math.ceil(min(waits))) if waits else 1

    def error(self, calls: int) -> PointsmanError:
        """The error for the client when the loop gave up after ``calls`` calls."""
        causes = {o.cause for o in self.obstacles}
        if causes == {UNSUPPORTED}:
            return UnprocessableContentError(
                f"'{self.alias}' is not served by a provider that can handle this request",
                param="model",
            )
        wait = self.retry_after()
        calls_text = "1 call" if calls == 1 else f"{calls} calls"
        text = f"No deployment could serve '{self.alias}' ({calls_text}): {self.describe()}"
        headers = {"Retry-After": str(wait), "x-pointsman-attempts": str(calls)}
        if causes and causes <= _RATE_CAUSES:
            return UpstreamRateLimitedError(text, retry_after=wait, headers=headers)
        return ServiceUnavailableError(text, headers=headers)
