"""The terminal of the pipeline: the attempt loop.

For each request the :class:`Dispatcher` walks the deployments (:mod:`.walk`), calls them
(:mod:`.calls`, under the provider's timeouts), retries and falls back as each failure warrants
(:mod:`.classify`), and attaches the first answer to the context: ``ctx.result`` for a whole
answer, ``ctx.stream`` for a primed stream. It never attaches an error as an answer: when nothing
could serve, it raises one error naming what was tried (:mod:`.trail`), so a non-streamed
request never gets HTTP 200 with an error body.

With hedging on (``hedge_after``), calls race (:mod:`.hedge`) instead of running one by one.

Every call is recorded on ``ctx.attempts`` and in the deployment's health state; moves to
another deployment are logged as one JSON object each on the ``pointsman.reliability`` logger;
the response carries ``x-pointsman-attempts`` (calls made) and ``x-pointsman-deployment``.
On the happy path the loop costs a few microseconds: one gate check, one record.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping

import msgspec

from pointsman.config import Timeouts
from pointsman.core.pipeline import Attempt, RequestContext
from pointsman.errors import PointsmanError, UpstreamRateLimitedError
from pointsman.reliability.board import DeploymentState
from pointsman.reliability.calls import Answer, call_deployment
from pointsman.reliability.classify import Verdict, cause, verdict
from pointsman.reliability.hedge import race
from pointsman.reliability.streams import EndHook, GuardedStream
from pointsman.reliability.walk import NO_PLAN, Launch, Walk, WalkDeps

log = logging.getLogger("pointsman.reliability")
DEFAULT_TIMEOUTS = Timeouts()
_encode = msgspec.json.encode


def log_event(**fields: object) -> None:
    """One structured event as a JSON object on the ``pointsman.reliability`` logger."""
    if log.isEnabledFor(logging.INFO):
        log.info(_encode(fields).decode())


class Dispatcher:
    """The attempt loop over one config snapshot; see the module docstring.

    Args:
        deps: what every request's walk shares (routes, plans, board, budget, counters ...).
        timeouts: per provider name; providers not listed get the defaults.
        hedge_after: the default hedging delay (aliases may set their own); None: no hedging.
    """

    def __init__(
        self,
        deps: WalkDeps,
        timeouts: Mapping[str, Timeouts],
        hedge_after: float | None = None,
    ) -> None:
        self.deps = deps
        self.timeouts = dict(timeouts)
        self.hedge_after = hedge_after

    async def __call__(self, ctx: RequestContext) -> None:
        deps = self.deps
        deps.counters.requests += 1
        deps.budget.record_request(deps.clock())
        hedge = deps.plans.get(ctx.alias, NO_PLAN).hedge_after or self.hedge_after
        walk = Walk(ctx, deps, retry_same=hedge is None)
        try:
            if hedge is None:  # one call at a time (inline: no extra coroutine on the hot path)
                while True:
                    launch_or_none = walk.next()
                    if launch_or_none is None:
                        deps.counters.unavailable += 1
                        raise walk.error()
                    launch = launch_or_none
                    try:
                        answer = await self._attempt(ctx, launch, walk)
                        break
                    except PointsmanError as error:
                        wait = walk.failed(launch, error)  # raises when the request is at fault
                        if wait:
                            await asyncio.sleep(wait)
            else:
                launch, answer = await race(
                    walk, lambda launch: self._attempt(ctx, launch, walk), hedge, deps.counters
                )
        except PointsmanError as error:
            error.headers.setdefault("x-pointsman-attempts", str(walk.calls))
            raise
        deployment = launch.deployment
        ctx.deployment = deployment
        ctx.response_headers["x-pointsman-deployment"] = deployment.name
        ctx.response_headers["x-pointsman-attempts"] = str(walk.calls)
        if isinstance(answer, GuardedStream):
            ctx.stream = answer
            ctx.first_token_at = time.perf_counter()
        else:
            ctx.result, ctx.usage = answer, answer.usage

    async def _attempt(self, ctx: RequestContext, launch: Launch, walk: Walk) -> Answer:
        """One call, recorded on ``ctx.attempts``, the deployment's state and the counters."""
        deps = self.deps
        deployment, state = launch.deployment, launch.state
        if launch.number > 1:
            self._note_move(ctx, launch, walk)
        provider = deployment.provider.name
        attempt = Attempt(
            deployment.name,
            launch.number,
            time.perf_counter(),
            provider=provider,
            region=state.info.region,
            alias=launch.alias,
        )
        ctx.attempts.append(attempt)
        timeouts = self.timeouts.get(provider, DEFAULT_TIMEOUTS)
        streaming = ctx.streaming
        try:
            if streaming:
                answer = await call_deployment(
                    ctx, deployment, timeouts, walk.has_alternative(),
                    self._stream_end(ctx, attempt, state),
                )  # fmt: skip
            else:
                answer = await call_deployment(ctx, deployment, timeouts)
        except PointsmanError as error:
            self._failed(attempt, launch, error)
            raise
        except BaseException:  # cancelled: a hedge lost, or the client went away
            attempt.latency = time.perf_counter() - attempt.started
            attempt.outcome = attempt.cause = "cancelled"
            state.released(launch.probe)
            raise
        attempt.latency = latency = time.perf_counter() - attempt.started
        now = deps.clock()
        state.responded(latency, now, launch.probe)
        if not streaming:
            state.finished(True, now)
        deps.counters.attempts["ok"] += 1
        return answer

    def _failed(self, attempt: Attempt, launch: Launch, error: PointsmanError) -> None:
        state = launch.state
        what = cause(error)
        attempt.latency = time.perf_counter() - attempt.started
        attempt.outcome = error.code or type(error).__name__
        attempt.cause = what
        attempt.status = getattr(error, "upstream_status", None)
        self.deps.counters.attempts[what] += 1
        now = self.deps.clock()
        if isinstance(error, UpstreamRateLimitedError):
            state.rate_limited(now, error.retry_after, launch.probe)
        elif verdict(error) in (Verdict.RETRY, Verdict.NEXT):
            state.failed(now, error.message, launch.probe)
        else:  # the request was at fault; the deployment answered
            state.responded(attempt.latency, now, launch.probe)
            state.finished(True, now)

    def _note_move(self, ctx: RequestContext, launch: Launch, walk: Walk) -> None:
        counters = self.deps.counters
        last = walk.last
        what = last[1] if last else "none"
        if launch.reason == "retry":
            counters.retries[what] += 1
        elif launch.reason != "hedge":
            counters.fallbacks[what] += 1
        log_event(
            event=launch.reason if launch.reason in ("retry", "hedge") else "fallback",
            reason=launch.reason,
            request_id=ctx.request_id,
            alias=ctx.alias,
            via=launch.alias,
            previous=last[0] if last else None,
            cause=what,
            to=launch.deployment.name,
            call=launch.number,
        )

    def _stream_end(self, ctx: RequestContext, attempt: Attempt, state: DeploymentState) -> EndHook:
        def end(error: PointsmanError | None) -> None:
            now = self.deps.clock()
            if error is None:
                state.finished(True, now)
                return
            attempt.outcome = error.code or type(error).__name__
            attempt.cause = f"midstream_{cause(error)}"
            self.deps.counters.midstream_failures += 1
            state.finished(False, now, error.message)
            log_event(
                event="midstream_failure",
                request_id=ctx.request_id,
                alias=ctx.alias,
                deployment=attempt.deployment,
                cause=attempt.cause,
            )

        return end
