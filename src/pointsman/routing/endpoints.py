"""``GET /routing/shadow``: the shadow comparisons of the live config snapshot (master key).

Returns ``{"summary": [...], "comparisons": [...]}``: per (alias, challenger) the number of
mirrored requests, how many both sides answered, mean latencies, total costs and identical
answers; then each comparison, newest last (see :mod:`.shadow`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from pointsman.errors import PermissionDeniedError, PointsmanError
from pointsman.governance.auth import bearer_token
from pointsman.server.errors import openai_error_response

if TYPE_CHECKING:
    from pointsman.gateway import Runtime


def routing_routes(runtime: Runtime) -> list[Route]:
    async def shadow(request: Request) -> Response:
        gateway = runtime.gateway
        try:
            if not gateway.authenticate.identify(bearer_token(request.headers)).admin:
                raise PermissionDeniedError("GET /routing/shadow needs the master key")
        except PointsmanError as error:
            return openai_error_response(error)
        return JSONResponse(gateway.router.shadow_log.snapshot())

    return [Route("/routing/shadow", shadow, methods=["GET"])]
