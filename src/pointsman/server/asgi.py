"""The ASGI front door: hot routes dispatched directly, everything else through Starlette.

Starlette's router and middleware stack cost about 50 µs per request, a sixth of the gateway's
whole per-request budget. The few hot endpoints (chat completions, embeddings) are looked up in
a dict by exact path and called directly; admin, health and UI routes keep Starlette's router.
An unexpected exception anywhere becomes an OpenAI-format 500 (logged with its traceback on the
server, never sent to the client).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from pointsman.errors import PointsmanError
from pointsman.server.errors import openai_error_response

log = logging.getLogger("pointsman")
Endpoint = Callable[[Request], Awaitable[Response]]


class InternalError(PointsmanError):
    status = 500
    type = "api_error"
    code = "internal_error"


class FrontDoor:
    def __init__(self, hot: Mapping[str, Endpoint], fallback: ASGIApp) -> None:
        self.hot = dict(hot)
        self.fallback = fallback
        self.runtime: Any = None  # the app factory attaches its Runtime for tests and tools

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.fallback(scope, receive, send)
            return
        endpoint = self.hot.get(scope["path"])
        if endpoint is None or scope["method"] != "POST":
            await self.fallback(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Mapping[str, object]) -> None:
            nonlocal started
            started = True
            await send(message)  # type: ignore[arg-type]

        try:
            response = await endpoint(Request(scope, receive))
            await response(scope, receive, tracking_send)
        except Exception:
            log.exception("unexpected error on %s", scope["path"])
            if not started:
                error = openai_error_response(internal_error())
                await error(scope, receive, send)


def internal_error() -> InternalError:
    return InternalError("Internal error in the gateway; it has been logged")
