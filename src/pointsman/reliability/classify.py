"""What a failed attempt means for the attempt loop, and how it is named in records.

=============================  ===========  ==============================================
error                          verdict      why
=============================  ===========  ==============================================
429, 5xx, connection errors    ``RETRY``    transient: retry the same deployment (with
                                            backoff), then fall back
timeouts (TTFT, idle, total)   ``NEXT``     this deployment is slow now: switch at once
credentials refused, upstream  ``NEXT``     this deployment is broken, another may not be
404, malformed answer
context window exceeded        ``CONTEXT``  fall back to the alias's larger-window alias
content-policy refusal         ``POLICY``   fall back to the alias's configured alias
any other 4xx, our own errors  ``STOP``     the request itself is at fault: answer it now
=============================  ===========  ==============================================

Only ``RETRY`` and ``NEXT`` failures count against a deployment's circuit breaker; a 429 puts
the deployment in a rate-limit cooldown instead.
"""

from __future__ import annotations

import enum

from pointsman.errors import (
    ContentFilteredError,
    ContextWindowExceededError,
    PointsmanError,
    UpstreamAuthError,
    UpstreamBadRequestError,
    UpstreamError,
    UpstreamProtocolError,
    UpstreamRateLimitedError,
    UpstreamTimeoutError,
)


class AttemptTimeout(UpstreamTimeoutError):
    """A timeout the attempt loop enforced. ``kind``: ``ttft``, ``idle`` or ``total``."""

    def __init__(self, deployment: str, kind: str, seconds: float) -> None:
        what = {
            "ttft": "no first token",
            "idle": "no chunk",
            "total": "no complete answer",
        }[kind]
        super().__init__(f"{deployment}: {what} within {seconds:g}s", deployment=deployment)
        self.kind = kind
        self.seconds = seconds


class Verdict(enum.Enum):
    RETRY = "retry"
    NEXT = "next"
    CONTEXT = "context_window"
    POLICY = "content_policy"
    STOP = "stop"


def verdict(error: PointsmanError) -> Verdict:
    """What the loop does after ``error``; see the module table."""
    if isinstance(error, UpstreamTimeoutError):
        return Verdict.NEXT
    if error.retryable:
        return Verdict.RETRY
    if isinstance(error, ContextWindowExceededError):
        return Verdict.CONTEXT
    if isinstance(error, ContentFilteredError):
        return Verdict.POLICY
    if isinstance(error, UpstreamBadRequestError):
        return Verdict.STOP
    if isinstance(error, UpstreamError):  # auth, protocol, upstream 404, other deployment faults
        return Verdict.NEXT
    return Verdict.STOP


def cause(error: PointsmanError) -> str:
    """A short, stable name for what ended an attempt (for records, metrics and messages)."""
    if isinstance(error, AttemptTimeout):
        return f"timeout_{error.kind}"
    if isinstance(error, UpstreamTimeoutError):
        return "timeout_connect"
    if isinstance(error, UpstreamRateLimitedError):
        return "http_429"
    if isinstance(error, ContextWindowExceededError):
        return "context_window"
    if isinstance(error, ContentFilteredError):
        return "content_policy"
    if isinstance(error, UpstreamAuthError):
        return "auth"
    if isinstance(error, UpstreamProtocolError):
        return "protocol"
    if isinstance(error, UpstreamError):
        status = error.upstream_status
        return f"http_{status}" if status else "connection"
    return error.code or type(error).__name__
