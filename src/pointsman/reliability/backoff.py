"""How long to wait before retrying the same deployment: exponential backoff, full jitter,
never sooner than the upstream asked (Retry-After or its rate-limit reset headers).

Full jitter (``uniform(0, min(cap, base * 2**(n-1)))``, from the AWS architecture blog's
comparison of backoff schemes) spreads the retries of many clients that failed together, so
they do not come back together.
"""

from __future__ import annotations

import random

from pointsman.reliability.settings import RetrySettings


def backoff_delay(retry: int, base: float, cap: float, rng: random.Random) -> float:
    """Seconds before the ``retry``-th retry (from 1): uniform(0, min(cap, base*2**(retry-1)))."""
    if retry < 1:
        raise ValueError("retry counts from 1")
    ceiling = min(cap, base * 2 ** min(retry - 1, 62))
    return rng.uniform(0.0, ceiling)


def retry_wait(
    retry: int, retry_after: float | None, settings: RetrySettings, rng: random.Random
) -> float:
    """Seconds before the ``retry``-th retry of one deployment: the jittered backoff, or the
    upstream's ``retry_after`` when that is longer. The caller compares it with ``max_wait``."""
    delay = backoff_delay(retry, settings.backoff_base, settings.backoff_max, rng)
    if retry_after is not None and retry_after > delay:
        return retry_after
    return delay
