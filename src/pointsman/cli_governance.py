"""``pointsman keys|orgs|teams|budgets|limits|spend``: governance from the command line.

The commands work on the store named by ``--config`` (or ``--url``), migrating it first if it
is new. Running gateways pick the changes up within their refresh interval (1 s by default);
the admin HTTP API does the same through a gateway and takes effect there at once.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Annotated, Any, TypeVar, cast

import typer
from rich.console import Console
from rich.panel import Panel
from rich.table import Table

from pointsman.cli_db import ConfigOption, UrlOption, store_settings

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

T = TypeVar("T")
out = Console()
err = Console(stderr=True)
keys_app = typer.Typer(no_args_is_help=True, help="Issue, list, revoke and rotate virtual keys.")
orgs_app = typer.Typer(no_args_is_help=True, help="Create and list orgs.")
teams_app = typer.Typer(no_args_is_help=True, help="Create and list teams.")
budgets_app = typer.Typer(no_args_is_help=True, help="Set and list budgets.")
limits_app = typer.Typer(no_args_is_help=True, help="Set and list rate limits.")
ScopeOption = Annotated[str, typer.Option(help="org, team, key, user or feature.")]


def _run(config: Any, url: Any, work: Callable[[AsyncEngine], Awaitable[T]]) -> T:
    from pointsman.store.engine import create_engine
    from pointsman.store.migrate import upgrade

    settings, target = store_settings(config, url)

    async def run() -> T:
        engine = create_engine(settings, url=target)
        try:
            await upgrade(engine, schema=settings.schema)
            return await work(engine)
        finally:
            await engine.dispose()

    try:
        return asyncio.run(run())
    except ValueError as error:
        err.print(f"[bold red]error[/]: {error}")
        raise typer.Exit(2) from None


def _when(value: datetime | None) -> str:
    return "-" if value is None else value.strftime("%Y-%m-%d %H:%M")


@orgs_app.command("create")
def org_create(name: str, config: ConfigOption = None, url: UrlOption = None) -> None:
    from pointsman.store.keys import KeyStore

    org = _run(config, url, lambda e: KeyStore(e).create_org(name))
    out.print(f"org [cyan]{org.id}[/] ({org.name})")


@orgs_app.command("list")
def org_list(config: ConfigOption = None, url: UrlOption = None) -> None:
    from pointsman.store.keys import KeyStore

    table = Table("id", "name", "created", title="Orgs")
    for org in _run(config, url, lambda e: KeyStore(e).list_orgs()):
        table.add_row(org.id, org.name, _when(org.created_at))
    out.print(table)


@teams_app.command("create")
def team_create(org: str, name: str, config: ConfigOption = None, url: UrlOption = None) -> None:
    from pointsman.store.keys import KeyStore

    team = _run(config, url, lambda e: KeyStore(e).create_team(org, name))
    out.print(f"team [cyan]{team.id}[/] ({team.name}) in org {team.org_id}")


@teams_app.command("list")
def team_list(config: ConfigOption = None, url: UrlOption = None) -> None:
    from pointsman.store.keys import KeyStore

    table = Table("id", "org", "name", "created", title="Teams")
    for team in _run(config, url, lambda e: KeyStore(e).list_teams()):
        table.add_row(team.id, team.org_id, team.name, _when(team.created_at))
    out.print(table)


@keys_app.command("create")
def key_create(
    name: str,
    team: Annotated[str | None, typer.Option(help="Team id (the key joins its org).")] = None,
    org: Annotated[str | None, typer.Option(help="Org id, for a key in no team.")] = None,
    alias: Annotated[list[str] | None, typer.Option(help="Allowed alias (repeat).")] = None,
    data_class: Annotated[str | None, typer.Option(help="Highest data class.")] = None,
    expires_days: Annotated[float | None, typer.Option(help="Expire after N days.")] = None,
    config: ConfigOption = None,
    url: UrlOption = None,
) -> None:
    """Issue a key. Its secret is printed once; only a hash is stored."""
    from pointsman.store.keys import KeyStore

    expires = datetime.now(UTC) + timedelta(days=expires_days) if expires_days else None
    issued = _run(
        config,
        url,
        lambda e: KeyStore(e).create_key(
            name,
            team_id=team,
            org_id=org,
            aliases=alias,
            data_class_ceiling=data_class,
            expires_at=expires,
        ),
    )
    body = f"[bold]{issued.secret}[/]\n\nid {issued.key.id} · shown once: store it now"
    out.print(Panel(body, title=f"key '{name}'"))


@keys_app.command("list")
def key_list(
    team: Annotated[str | None, typer.Option()] = None,
    all_keys: Annotated[bool, typer.Option("--all", help="Include revoked/expired.")] = False,
    config: ConfigOption = None,
    url: UrlOption = None,
) -> None:
    from pointsman.store.keys import KeyStore

    keys = _run(
        config, url, lambda e: KeyStore(e).list_keys(team_id=team, include_inactive=all_keys)
    )
    table = Table("id", "prefix", "name", "team", "aliases", "expires", "revoked", title="Keys")
    for key in keys:
        aliases = "all" if key.allowed_aliases is None else ", ".join(sorted(key.allowed_aliases))
        table.add_row(
            key.id,
            key.prefix + "…",
            key.name,
            key.team_id or "-",
            aliases,
            _when(key.expires_at),
            _when(key.revoked_at),
        )
    out.print(table)


@keys_app.command("revoke")
def key_revoke(key_id: str, config: ConfigOption = None, url: UrlOption = None) -> None:
    from pointsman.store.keys import KeyStore

    if not _run(config, url, lambda e: KeyStore(e).revoke_key(key_id)):
        err.print(f"[bold red]error[/]: no active key {key_id}")
        raise typer.Exit(1)
    out.print(f"revoked {key_id}; gateways stop accepting it within their refresh interval")


@keys_app.command("rotate")
def key_rotate(
    key_id: str,
    grace_seconds: Annotated[float, typer.Option(help="Old secret keeps working this long.")] = 0,
    config: ConfigOption = None,
    url: UrlOption = None,
) -> None:
    from pointsman.store.keys import KeyStore

    grace = timedelta(seconds=grace_seconds) if grace_seconds else None
    issued = _run(config, url, lambda e: KeyStore(e).rotate_key(key_id, grace=grace))
    out.print(Panel(f"[bold]{issued.secret}[/]\n\nid {issued.key.id}", title="rotated key"))


@budgets_app.command("set")
def budget_set(
    scope: ScopeOption,
    subject: Annotated[str, typer.Option("--id", help="The org/team/key id, user or feature.")],
    limit_usd: Annotated[float, typer.Option(help="Limit in USD per period.")],
    period: Annotated[str, typer.Option(help="daily, weekly, monthly or total.")] = "monthly",
    soft: Annotated[bool, typer.Option(help="Alert only (may run to 120 %).")] = False,
    config: ConfigOption = None,
    url: UrlOption = None,
) -> None:
    from pointsman.store.budgets import BudgetStore

    budget = _run(
        config,
        url,
        lambda e: BudgetStore(e).set_budget(
            cast(Any, scope),
            subject,
            cast(Any, period),
            round(limit_usd * 1_000_000),
            hard=not soft,
        ),
    )
    kind = "soft" if soft else "hard"
    out.print(f"budget {budget.id}: {scope} {subject} {kind} ${limit_usd:g} {period}")


@budgets_app.command("list")
def budget_list(config: ConfigOption = None, url: UrlOption = None) -> None:
    from pointsman.store.budgets import BudgetStore

    table = Table("id", "scope", "subject", "period", "limit USD", "mode", title="Budgets")
    for b in _run(config, url, lambda e: BudgetStore(e).list_budgets()):
        table.add_row(
            b.id,
            b.scope_kind,
            b.scope_id,
            b.period,
            f"{b.limit_micros / 1e6:g}",
            "hard" if b.hard else "soft",
        )
    out.print(table)


@limits_app.command("set")
def limit_set(
    scope: Annotated[str, typer.Option(help="key or team.")],
    subject: Annotated[str, typer.Option("--id", help="The key or team id.")],
    rpm: Annotated[int | None, typer.Option(help="Requests per minute.")] = None,
    tpm: Annotated[int | None, typer.Option(help="Tokens per minute.")] = None,
    usd_per_minute: Annotated[float | None, typer.Option(help="Spend rate cap.")] = None,
    config: ConfigOption = None,
    url: UrlOption = None,
) -> None:
    from pointsman.store.budgets import BudgetStore

    cost = None if usd_per_minute is None else round(usd_per_minute * 1_000_000)
    _run(
        config,
        url,
        lambda e: BudgetStore(e).set_rate_limit(
            cast(Any, scope),
            subject,
            rpm=rpm,
            tpm=tpm,
            cost_per_minute_micros=cost,
        ),
    )
    out.print(f"limits set for {scope} {subject}: rpm={rpm} tpm={tpm} usd/min={usd_per_minute}")


def spend(
    by: Annotated[str, typer.Option(help="team, key, model, feature, org, user, alias.")] = "team",
    since: Annotated[str, typer.Option(help="ISO date or time (default: 30 days ago).")] = "",
    config: ConfigOption = None,
    url: UrlOption = None,
) -> None:
    """Spend by team, key, model or feature since a time (from the usage ledger)."""
    from pointsman.store.spend import SpendStore

    start = datetime.fromisoformat(since) if since else datetime.now(UTC) - timedelta(days=30)
    start = start if start.tzinfo else start.replace(tzinfo=UTC)
    rows = _run(config, url, lambda e: SpendStore(e).report(cast(Any, by), start))
    table = Table(
        by,
        "requests",
        "tokens in",
        "tokens out",
        "cost USD",
        title=f"Spend since {start:%Y-%m-%d %H:%M} UTC",
    )
    for row in rows:
        table.add_row(
            row.group or "(none)",
            f"{row.requests:,}",
            f"{row.prompt_tokens:,}",
            f"{row.completion_tokens:,}",
            f"{row.cost_micros / 1e6:,.6f}",
        )
    out.print(table)


def register(app: typer.Typer) -> None:
    app.add_typer(keys_app, name="keys")
    app.add_typer(orgs_app, name="orgs")
    app.add_typer(teams_app, name="teams")
    app.add_typer(budgets_app, name="budgets")
    app.add_typer(limits_app, name="limits")
    app.command("spend")(spend)
