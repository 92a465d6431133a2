"""The admin HTTP API (master key): orgs, teams, virtual keys, budgets, limits, spend reports.

Every route is declared once in ``ROUTES`` with its body and answer types; the Starlette routes
and the OpenAPI document (``GET /admin/v1/openapi.json``) are both generated from that table.
Writes take effect on this replica at once and on the others within one refresh interval.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import msgspec
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from pointsman.errors import (
    InvalidRequestError,
    NotFoundError,
    PermissionDeniedError,
    PointsmanError,
    ServiceUnavailableError,
)
from pointsman.governance.auth import bearer_token
from pointsman.server import admin_cache
from pointsman.server import admin_types as t
from pointsman.server.errors import openai_error_response
from pointsman.server.wire import parse_json, validate

if TYPE_CHECKING:
    from pointsman.gateway import Runtime
    from pointsman.governance.service import Governance
    from pointsman.store.keys import VirtualKey

PREFIX = "/admin/v1"
Handler = Callable[["Governance", Request, Any], Awaitable[Any]]


@dataclass(frozen=True)
class AdminRoute:
    method: str
    path: str
    handler: Handler
    summary: str
    body: type | None = None
    answer: Any = None
    query: tuple[str, ...] = ()
    # What the handler gets first, from the runtime; None: governance (refused when off).
    service: Callable[[Runtime], Any] | None = None


def _key_view(key: VirtualKey) -> t.KeyView:
    return t.KeyView(
        id=key.id,
        prefix=key.prefix,
        name=key.name,
        org_id=key.org_id,
        team_id=key.team_id,
        user_id=key.user_id,
        aliases=None if key.allowed_aliases is None else sorted(key.allowed_aliases),
        data_class_ceiling=key.data_class_ceiling,
        expires_at=key.expires_at,
        revoked_at=key.revoked_at,
        created_at=key.created_at,
    )


async def create_org(gov: Governance, request: Request, body: t.NewOrg) -> Any:
    return await gov.key_store.create_org(body.name, body.metadata)


async def list_orgs(gov: Governance, request: Request, body: None) -> Any:
    return await gov.key_store.list_orgs()


async def create_team(gov: Governance, request: Request, body: t.NewTeam) -> Any:
    return await gov.key_store.create_team(body.org_id, body.name, body.metadata)


async def list_teams(gov: Governance, request: Request, body: None) -> Any:
    return await gov.key_store.list_teams(request.query_params.get("org_id"))


async def create_key(gov: Governance, request: Request, body: t.NewKey) -> Any:
    issued = await gov.key_store.create_key(
        body.name,
        org_id=body.org_id,
        team_id=body.team_id,
        user_id=body.user_id,
        aliases=body.aliases,
        data_class_ceiling=body.data_class_ceiling,
        expires_at=body.expires_at,
        metadata=body.metadata,
    )
    await gov.changed("keys")
    return t.IssuedKeyView(secret=issued.secret, key=_key_view(issued.key))


async def list_keys(gov: Governance, request: Request, body: None) -> Any:
    params = request.query_params
    keys = await gov.key_store.list_keys(
        org_id=params.get("org_id"),
        team_id=params.get("team_id"),
        include_inactive=params.get("include_inactive") == "true",
    )
    return [_key_view(k) for k in keys]


async def revoke_key(gov: Governance, request: Request, body: None) -> Any:
    key_id = request.path_params["key_id"]
    if not await gov.key_store.revoke_key(key_id):
        raise NotFoundError(f"No active key '{key_id}'", param="key_id", code="key_not_found")
    await gov.changed("keys")
    return {"id": key_id, "revoked": True}


async def rotate_key(gov: Governance, request: Request, body: t.Rotation) -> Any:
    grace = timedelta(seconds=body.grace_seconds) if body.grace_seconds else None
    issued = await gov.key_store.rotate_key(request.path_params["key_id"], grace=grace)
    await gov.changed("keys")
    return t.IssuedKeyView(secret=issued.secret, key=_key_view(issued.key))


async def set_budget(gov: Governance, request: Request, body: t.BudgetBody) -> Any:
    budget = await gov.budget_store.set_budget(
        body.scope_kind,
        body.scope_id,
        body.period,
        round(body.limit_usd * 1_000_000),
        hard=body.hard,
        downgrade_alias=body.downgrade_alias,
        downgrade_threshold=body.downgrade_threshold,
    )
    await gov.changed("budgets")
    return budget


async def list_budgets(gov: Governance, request: Request, body: None) -> Any:
    return await gov.budget_store.list_budgets()


async def delete_budget(gov: Governance, request: Request, body: None) -> Any:
    budget_id = request.path_params["budget_id"]
    if not await gov.budget_store.delete_budget(budget_id):
        raise NotFoundError(f"No budget '{budget_id}'", param="budget_id")
    await gov.changed("budgets")
    return {"id": budget_id, "deleted": True}


async def set_limit(gov: Governance, request: Request, body: t.LimitBody) -> Any:
    cost = None if body.cost_per_minute_usd is None else round(body.cost_per_minute_usd * 1e6)
    limit = await gov.budget_store.set_rate_limit(
        body.scope_kind, body.scope_id, rpm=body.rpm, tpm=body.tpm, cost_per_minute_micros=cost
    )
    await gov.changed("limits")
    return limit


async def list_limits(gov: Governance, request: Request, body: None) -> Any:
    return await gov.budget_store.list_rate_limits()


async def spend(gov: Governance, request: Request, body: None) -> Any:
    params = request.query_params
    by = params.get("by", "team")
    if by not in t.GroupBy.__args__:  # type: ignore[attr-defined]
        raise InvalidRequestError(f"Invalid value for 'by': {by!r}", param="by")
    try:
        since = datetime.fromisoformat(params["since"]) if "since" in params else None
    except ValueError:
        raise InvalidRequestError(
            "'since' must be an ISO 8601 date or time", param="since"
        ) from None
    since = since or datetime.now(UTC) - timedelta(days=30)
    if since.tzinfo is None:
        since = since.replace(tzinfo=UTC)
    rows = await gov.spend_store.report(by, since)  # type: ignore[arg-type]
    return [
        t.SpendRowView(
            r.group, r.requests, r.prompt_tokens, r.completion_tokens, r.cost_micros / 1_000_000
        )
        for r in rows
    ]


ROUTES = (
    AdminRoute("POST", "/orgs", create_org, "Create an org", t.NewOrg),
    AdminRoute("GET", "/orgs", list_orgs, "List orgs"),
    AdminRoute("POST", "/teams", create_team, "Create a team in an org", t.NewTeam),
    AdminRoute("GET", "/teams", list_teams, "List teams", query=("org_id",)),
    AdminRoute(
        "POST",
        "/keys",
        create_key,
        "Issue a virtual key (secret shown once)",
        t.NewKey,
        t.IssuedKeyView,
    ),
    AdminRoute(
        "GET",
        "/keys",
        list_keys,
        "List keys",
        None,
        list[t.KeyView],
        ("org_id", "team_id", "include_inactive"),
    ),
    AdminRoute("POST", "/keys/{key_id}/revoke", revoke_key, "Revoke a key"),
    AdminRoute(
        "POST",
        "/keys/{key_id}/rotate",
        rotate_key,
        "Rotate a key's secret",
        t.Rotation,
        t.IssuedKeyView,
    ),
    AdminRoute("PUT", "/budgets", set_budget, "Create or replace a budget", t.BudgetBody),
    AdminRoute("GET", "/budgets", list_budgets, "List budgets"),
    AdminRoute("DELETE", "/budgets/{budget_id}", delete_budget, "Delete a budget"),
    AdminRoute("PUT", "/limits", set_limit, "Create or replace a scope's rate limits", t.LimitBody),
    AdminRoute("GET", "/limits", list_limits, "List rate limits"),
    AdminRoute("GET", "/spend", spend, "Spend report", None, list[t.SpendRowView], ("by", "since")),
    AdminRoute(
        "GET",
        "/cache/stats",
        admin_cache.stats,  # type: ignore[arg-type]
        "Cache entries, hits, misses and saved USD per scope",
        service=admin_cache.cache_of,
    ),
    AdminRoute(
        "POST",
        "/cache/purge",
        admin_cache.purge,  # type: ignore[arg-type]
        "Delete cached answers of an org, a scope, the master key, or all",
        admin_cache.PurgeBody,
        service=admin_cache.cache_of,
    ),
)

_encode = msgspec.json.Encoder(decimal_format="number").encode


def admin_routes(runtime: Runtime) -> list[Route]:
    """Starlette routes for ``ROUTES`` plus the OpenAPI document."""

    def endpoint(route: AdminRoute) -> Callable[[Request], Awaitable[Response]]:
        async def handle(request: Request) -> Response:
            try:
                gateway = runtime.gateway
                caller = gateway.authenticate.identify(bearer_token(request.headers))
                if not caller.admin:
                    raise PermissionDeniedError("The admin API needs the master key")
                target: Any = runtime.governance
                if route.service is not None:
                    target = route.service(runtime)
                elif target is None:
                    raise ServiceUnavailableError("Governance is not enabled", code="no_store")
                body: Any = None
                if route.body is not None:
                    body = validate(parse_json(await request.body() or b"{}"), route.body)
                answer = await route.handler(target, request, body)
            except PointsmanError as error:
                return openai_error_response(error)
            except ValueError as error:
                return openai_error_response(InvalidRequestError(str(error)))
            return Response(_encode(answer), media_type="application/json")

        return handle

    routes = [Route(PREFIX + r.path, endpoint(r), methods=[r.method]) for r in ROUTES]
    document = _encode(openapi())

    async def spec(request: Request) -> Response:
        return Response(document, media_type="application/json")

    routes.append(Route(PREFIX + "/openapi.json", spec, methods=["GET"]))
    return routes


def openapi() -> dict[str, Any]:
    """The OpenAPI 3.1 document of the admin API, generated from ``ROUTES``."""
    types = [r.body for r in ROUTES if r.body] + [r.answer for r in ROUTES if r.answer]
    schemas, components = msgspec.json.schema_components(
        types, ref_template="#/components/schemas/{name}"
    )
    refs = dict(zip(types, schemas, strict=True))
    paths: dict[str, dict[str, Any]] = {}
    for route in ROUTES:
        operation: dict[str, Any] = {
            "summary": route.summary,
            "security": [{"bearer": []}],
            "responses": {
                "200": {
                    "description": "OK",
                    "content": {
                        "application/json": {"schema": refs.get(route.answer, {"type": "object"})}
                    },
                }
            },
        }
        if route.body is not None:
            operation["requestBody"] = {
                "required": True,
                "content": {"application/json": {"schema": refs[route.body]}},
            }
        params: list[dict[str, Any]] = [
            {"name": p, "in": "query", "schema": {"type": "string"}} for p in route.query
        ]
        params += [
            {"name": n.strip("{}"), "in": "path", "required": True, "schema": {"type": "string"}}
            for n in route.path.split("/")
            if n.startswith("{")
        ]
        if params:
            operation["parameters"] = params
        paths.setdefault(PREFIX + route.path, {})[route.method.lower()] = operation
    return {
        "openapi": "3.1.0",
        "info": {"title": "Pointsman admin API", "version": "1"},
        "paths": paths,
        "components": {
            "schemas": components,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }
