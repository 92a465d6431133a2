"""The pipeline's terminal with routing: tier dispatch, cascades, shadows, the route header.

:class:`RoutingTerminal` wraps the reliability dispatcher (the attempt loop). For a plain alias
it calls the dispatcher directly. For a composite alias (task map, tiered) it dispatches a
request derived for the picked leaf alias, so that alias's fallbacks, hedging and breakers apply
while the client's alias stays the request's name in metrics, logs and usage records. For a
cascade it runs :class:`~.cascade.Cascade`. A sampled request is mirrored to its alias's shadow
first (fire-and-forget). Every answer, and every error raised here, carries the
``x-pointsman-route`` header.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from pointsman.core.pipeline import RequestContext
from pointsman.errors import PointsmanError
from pointsman.routing.cascade import Cascade
from pointsman.routing.record import HEADER, record_of
from pointsman.routing.router import SHADOW_NOTE, Router
from pointsman.routing.shadow import TeeStream
from pointsman.routing.subrequest import adopt, derive

Dispatch = Callable[[RequestContext], Awaitable[None]]


class RoutingTerminal:
    """Callable as the pipeline terminal; see the module docstring."""

    def __init__(self, router: Router, dispatch: Dispatch) -> None:
        self.router = router
        self.dispatch = dispatch

    async def __call__(self, ctx: RequestContext) -> None:
        record = record_of(ctx)
        if record is None:  # not routed by the Router (no RouteStage in the pipeline)
            await self.dispatch(ctx)
            return
        router = self.router
        shadow = router.shadows.get(record.alias)
        comparison = shadow.start(ctx) if shadow is not None else None
        if comparison is not None:
            record.shadow = comparison.challenger
            ctx.notes[SHADOW_NOTE] = (shadow, comparison)
        try:
            if record.cascade is not None:
                cascade = router.composite[record.cascade]
                assert isinstance(cascade, Cascade)
                await cascade.run(ctx, record, self.dispatch, router)
                calls = sum(1 for a in ctx.attempts if a.number > 0)
                ctx.response_headers["x-pointsman-attempts"] = str(calls)
            elif record.leaf is not None and record.leaf != ctx.alias:
                sub = derive(ctx, record.leaf, ctx.candidates)
                await self.dispatch(sub)
                adopt(ctx, sub)
            else:
                await self.dispatch(ctx)
        except PointsmanError as error:
            error.headers.setdefault(HEADER, record.header())
            raise
        router.served(ctx)
        if comparison is not None and ctx.stream is not None:
            ctx.stream = TeeStream(ctx.stream)  # keep the primary's text for the comparison
        ctx.response_headers[HEADER] = record.header()
