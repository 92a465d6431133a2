"""The application factory: wires a :class:`~pointsman.gateway.Runtime` into an ASGI app.

All state lives on the runtime the factory creates; there are no module-level singletons, so
tests and the demo can run several gateways in one process.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
import signal
from collections.abc import AsyncIterator
from pathlib import Path

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from pointsman.config import Config, load_config
from pointsman.errors import (
    MethodNotAllowedError,
    NotFoundError,
    PermissionDeniedError,
    PointsmanError,
)
from pointsman.gateway import Runtime
from pointsman.governance.auth import bearer_token
from pointsman.observe.routes import metrics_routes
from pointsman.routing.endpoints import routing_routes
from pointsman.server.admin import admin_routes
from pointsman.server.anthropic_routes import AnthropicRoutes
from pointsman.server.asgi import FrontDoor, internal_error
from pointsman.server.errors import openai_error_response
from pointsman.server.openai_routes import OpenAIRoutes
from pointsman.ui.routes import ui_routes

log = logging.getLogger("pointsman")
CONFIG_ENV = "POINTSMAN_CONFIG"
# The cycle collector runs a young collection whenever allocations outnumber deallocations by
# this many container objects. Python's default, 700, is below what a few dozen requests in
# flight hold at once, so under load it ran every ~8 requests and each run walked every live
# in-flight object: ~15 us per request, ~25 us with governance on, whose rate-limit windows add
# long-lived entries (benchmarks/bench_gateway.py, bench_governance.py). Almost everything a
# request allocates is freed by reference counting, so a threshold above the in-flight working
# set makes young collections rare. The price: cyclic garbage (an exception's traceback, say)
# may wait for ~7,000 more allocations instead of 700 before it is freed.
GC_YOUNG_THRESHOLD = 7000


def create_app(config: Config, *, config_path: str | Path | None = None) -> FrontDoor:
    """Build the gateway app. With ``config_path``, SIGHUP reloads that file atomically."""
    runtime = Runtime(config, config_path)
    openai = OpenAIRoutes(runtime)
    anthropic = AnthropicRoutes(runtime)

    async def live(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def ready(request: Request) -> Response:
        ok = runtime.gateway.ready
        return JSONResponse(
            {"status": "ready" if ok else "starting"}, status_code=200 if ok else 503
        )

    async def deployments(request: Request) -> Response:
        """Each deployment's breaker state, error rate and latency EWMA (master key only)."""
        gateway = runtime.gateway
        try:
            if not gateway.authenticate.identify(bearer_token(request.headers)).admin:
                raise PermissionDeniedError("GET /health/deployments needs the master key")
        except PointsmanError as error:
            return openai_error_response(error)
        return JSONResponse(gateway.reliability.snapshot())

    async def not_found(request: Request, exc: Exception) -> Response:
        path = request.url.path
        if getattr(exc, "status_code", 404) == 405:
            error: PointsmanError = MethodNotAllowedError(
                f"{request.method} is not allowed on {path}"
            )
        else:
            error = NotFoundError(f"No route for {request.method} {path}", code="unknown_url")
        return openai_error_response(error)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        governance = runtime.governance
        if governance is not None:
            await governance.start()
        await runtime.observe.start()
        await runtime.cache.start()
        await runtime.gateway.start()
        hup = config_path is not None and _install_sighup(runtime)
        # Everything built so far (modules, config, catalogs, the classifier) lives as long as
        # the process: move it out of the collector's reach, so that full collections walk only
        # what requests allocate and pause the loop for far less.
        gc.freeze()
        gc.set_threshold(GC_YOUNG_THRESHOLD, *gc.get_threshold()[1:])
        log.info(
            "pointsman ready: %d providers, %d aliases; %s",
            len(config.providers),
            len(config.models),
            governance.describe if governance is not None else "governance off",
        )
        try:
            yield
        finally:
            if hup:
                asyncio.get_running_loop().remove_signal_handler(signal.SIGHUP)
            await runtime.gateway.close()
            if governance is not None:  # drains the usage queue (SIGTERM ends up here)
                await governance.stop()
            await runtime.observe.stop()
            await runtime.cache.stop()

    async def unexpected(request: Request, exc: Exception) -> Response:
        log.exception("unexpected error on %s", request.url.path, exc_info=exc)
        return openai_error_response(internal_error())

    hot = {
        "/v1/chat/completions": openai.chat_completions,
        "/chat/completions": openai.chat_completions,
        "/v1/embeddings": openai.embeddings,
        "/embeddings": openai.embeddings,
        "/v1/messages": anthropic.messages,
        "/v1/messages/count_tokens": anthropic.count_tokens,
    }
    routes = [Route(path, endpoint, methods=["POST"]) for path, endpoint in hot.items()]
    routes += [
        Route("/v1/models", openai.models, methods=["GET"]),
        Route("/health/live", live, methods=["GET"]),
        Route("/health/ready", ready, methods=["GET"]),
        Route("/health/deployments", deployments, methods=["GET"]),
        *admin_routes(runtime),
        *metrics_routes(runtime),
        *routing_routes(runtime),
        *ui_routes(runtime),
    ]
    handlers = {404: not_found, 405: not_found, Exception: unexpected}
    starlette = Starlette(routes=routes, lifespan=lifespan, exception_handlers=handlers)
    front = FrontDoor(hot, starlette)
    front.runtime = runtime
    return front


def _install_sighup(runtime: Runtime) -> bool:
    loop = asyncio.get_running_loop()
    try:
        loop.add_signal_handler(signal.SIGHUP, lambda: loop.create_task(runtime.reload()))
    except (NotImplementedError, RuntimeError, ValueError):  # not the main thread, or Windows
        return False
    return True


def create_app_from_env() -> FrontDoor:
    """Factory for ``uvicorn --factory`` and worker processes: reads ``$POINTSMAN_CONFIG``."""
    path = os.environ[CONFIG_ENV]
    return create_app(load_config(path), config_path=path)
