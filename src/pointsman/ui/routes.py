"""Routes of the dashboard: the page, its bundled assets, and its one JSON endpoint.

``GET /ui`` serves the page and ``GET /ui/static/<file>`` its scripts and styles, all from this
package (no CDN, nothing fetched from elsewhere; a Content-Security-Policy of ``'self'`` says
so). The page asks for an admin key and polls ``GET /ui/api/summary`` with it once a second:
read-only, admin callers only (the master key; anyone with ``server.auth: none``). With
``observe.dashboard: false`` all three answer 404.
"""

from __future__ import annotations

from importlib import resources
from typing import TYPE_CHECKING

import msgspec
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from pointsman.errors import NotFoundError, PermissionDeniedError, PointsmanError
from pointsman.governance.auth import bearer_token
from pointsman.server.errors import openai_error_response

if TYPE_CHECKING:
    from pointsman.gateway import Runtime

ASSETS = {
    "index.html": "text/html; charset=utf-8",
    "dashboard.css": "text/css; charset=utf-8",
    "charts.js": "text/javascript; charset=utf-8",
    "dashboard.js": "text/javascript; charset=utf-8",
}
HEADERS = {
    "content-security-policy": "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'",
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
}


def _load_assets() -> dict[str, bytes]:
    folder = resources.files("pointsman.ui") / "static"
    return {name: (folder / name).read_bytes() for name in ASSETS}


def ui_routes(runtime: Runtime) -> list[Route]:
    assets = _load_assets()

    def enabled() -> bool:
        return runtime.gateway.config.observe.dashboard

    def missing(request: Request) -> Response:
        return openai_error_response(
            NotFoundError(f"No route for {request.method} {request.url.path}", code="unknown_url")
        )

    async def page(request: Request) -> Response:
        if not enabled():
            return missing(request)
        return Response(assets["index.html"], media_type=ASSETS["index.html"], headers=HEADERS)

    async def static(request: Request) -> Response:
        name = request.path_params["name"]
        if not enabled() or name not in assets or name == "index.html":
            return missing(request)
        headers = {**HEADERS, "cache-control": "no-cache"}
        return Response(assets[name], media_type=ASSETS[name], headers=headers)

    async def summary(request: Request) -> Response:
        if not enabled():
            return missing(request)
        gateway = runtime.gateway
        try:
            if not gateway.authenticate.identify(bearer_token(request.headers)).admin:
                raise PermissionDeniedError("The dashboard needs an admin key (the master key)")
        except PointsmanError as error:
            return openai_error_response(error)
        body = msgspec.json.encode(runtime.observe.dashboard())
        return Response(
            body, media_type="application/json", headers={"cache-control": "no-store", **HEADERS}
        )

    return [
        Route("/ui", page, methods=["GET"]),
        Route("/ui/", page, methods=["GET"]),
        Route("/ui/static/{name}", static, methods=["GET"]),
        Route("/ui/api/summary", summary, methods=["GET"]),
    ]
