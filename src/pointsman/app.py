"""The application factory: wires a :class:`~pointsman.gateway.Runtime` into an ASGI app.

All state lives on the runtime the factory creates; there are no module-level singletons, so
tests and the demo can run several gateways in one process.
"""

from __future__ import annotations

import asyncio
import contextlib
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
from pointsman.errors import NotFoundError
from pointsman.gateway import Runtime
from pointsman.server.errors import openai_error_response
from pointsman.server.openai_routes import OpenAIRoutes

log = logging.getLogger("pointsman")
CONFIG_ENV = "POINTSMAN_CONFIG"


def create_app(config: Config, *, config_path: str | Path | None = None) -> Starlette:
    """Build the gateway app. With ``config_path``, SIGHUP reloads that file atomically."""
    runtime = Runtime(config, config_path)
    openai = OpenAIRoutes(runtime)

    async def live(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def ready(request: Request) -> Response:
        ok = runtime.gateway.ready
        return JSONResponse(
            {"status": "ready" if ok else "starting"}, status_code=200 if ok else 503
        )

    async def not_found(request: Request, exc: Exception) -> Response:
        return openai_error_response(
            NotFoundError(f"No route for {request.method} {request.url.path}", code="unknown_url")
        )

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await runtime.gateway.start()
        hup = config_path is not None and _install_sighup(runtime)
        log.info(
            "pointsman ready: %d providers, %d aliases, state backend: in-process",
            len(config.providers),
            len(config.models),
        )
        try:
            yield
        finally:
            if hup:
                asyncio.get_running_loop().remove_signal_handler(signal.SIGHUP)
            await runtime.gateway.close()

    routes = [
        Route("/v1/chat/completions", openai.chat_completions, methods=["POST"]),
        Route("/chat/completions", openai.chat_completions, methods=["POST"]),
        Route("/v1/embeddings", openai.embeddings, methods=["POST"]),
        Route("/v1/models", openai.models, methods=["GET"]),
        Route("/health/live", live, methods=["GET"]),
        Route("/health/ready", ready, methods=["GET"]),
    ]
    app = Starlette(routes=routes, lifespan=lifespan, exception_handlers={404: not_found})
    app.state.runtime = runtime
    return app


def _install_sighup(runtime: Runtime) -> bool:
    loop = asyncio.get_running_loop()
    try:
        loop.add_signal_handler(signal.SIGHUP, lambda: loop.create_task(runtime.reload()))
    except (NotImplementedError, RuntimeError, ValueError):  # not the main thread, or Windows
        return False
    return True


def create_app_from_env() -> Starlette:
    """Factory for ``uvicorn --factory`` and worker processes: reads ``$POINTSMAN_CONFIG``."""
    path = os.environ[CONFIG_ENV]
    return create_app(load_config(path), config_path=path)
