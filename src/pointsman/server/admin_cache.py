"""The cache's admin routes (master key): stats and purge by scope.

Declared in :data:`pointsman.server.admin.ROUTES` like every admin route (so they are in the
generated OpenAPI document); their handlers receive the process's
:class:`~pointsman.cache.service.ResponseCache` instead of governance.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import msgspec
from starlette.requests import Request

from pointsman.cache.keys import MASTER_SCOPE
from pointsman.errors import InvalidRequestError

if TYPE_CHECKING:
    from pointsman.cache.service import ResponseCache
    from pointsman.gateway import Runtime

__all__ = ["PurgeBody", "cache_of", "purge", "stats"]


class PurgeBody(msgspec.Struct, forbid_unknown_fields=True):
    """Exactly one of: ``org_id`` (an org's entries, every key and user in it), ``scope`` (a
    scope as shown by the stats, with its sub-scopes), ``master`` (the master key's and
    ``auth: none`` entries) or ``all``."""

    org_id: str | None = None
    scope: str | None = None
    master: bool = False
    all: bool = False


def cache_of(runtime: Runtime) -> ResponseCache:
    return runtime.cache


async def stats(cache: ResponseCache, request: Request, body: None) -> Any:
    return await cache.stats()


async def purge(cache: ResponseCache, request: Request, body: PurgeBody) -> Any:
    chosen = [
        f"org:{body.org_id}" if body.org_id else None,
        body.scope,
        MASTER_SCOPE if body.master else None,
    ]
    given = [c for c in chosen if c]
    if len(given) + body.all != 1:
        raise InvalidRequestError("Give exactly one of org_id, scope, master: true or all: true")
    scope = None if body.all else given[0]
    return {"scope": scope or "*", "deleted": await cache.purge(scope)}
