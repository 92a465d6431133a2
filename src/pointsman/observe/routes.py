"""``GET /metrics``: the Prometheus exposition, for scrapers only.

Who may scrape: a client whose address is in ``observe.metrics.allow``; a bearer token equal
to ``observe.metrics.token``; the master key (any admin caller, which ``server.auth: none``
makes everyone). Anyone else gets 401 (no or unknown key) or 403 (a valid key that is not
allowed). The client address is the TCP peer's: behind a proxy, use the token.
"""

from __future__ import annotations

import hmac
import ipaddress
from collections.abc import Sequence
from functools import lru_cache
from typing import TYPE_CHECKING

from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from pointsman.errors import PermissionDeniedError, PointsmanError
from pointsman.governance.auth import Authenticate, bearer_token
from pointsman.observe.settings import MetricsSettings
from pointsman.server.errors import openai_error_response

if TYPE_CHECKING:
    from pointsman.gateway import Runtime

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@lru_cache(maxsize=16)
def _networks(allow: tuple[str, ...]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(entry, strict=False) for entry in allow)


def _listed(host: str | None, allow: Sequence[str]) -> bool:
    if not host or not allow:
        return False
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return any(address in network for network in _networks(tuple(allow)))


def check_scraper(
    host: str | None, token: str | None, settings: MetricsSettings, auth: Authenticate
) -> None:
    """Returns when the scraper may read ``/metrics``; raises the error to answer otherwise."""
    if _listed(host, settings.allow):
        return
    expected = settings.token
    if expected and token and hmac.compare_digest(token.encode(), expected.encode()):
        return
    if not auth.identify(token).admin:  # raises AuthenticationError for a missing/unknown key
        raise PermissionDeniedError(
            "GET /metrics needs the metrics token (observe.metrics.token), the master key, "
            "or a client address in observe.metrics.allow"
        )


def metrics_routes(runtime: Runtime) -> list[Route]:
    async def metrics(request: Request) -> Response:
        gateway = runtime.gateway
        host = request.client.host if request.client is not None else None
        try:
            check_scraper(
                host,
                bearer_token(request.headers),
                gateway.config.observe.metrics,
                gateway.authenticate,
            )
        except PointsmanError as error:
            return openai_error_response(error)
        return Response(runtime.observe.metrics(), media_type=CONTENT_TYPE_PLAIN_0_0_4)

    return [Route("/metrics", metrics, methods=["GET"])]
