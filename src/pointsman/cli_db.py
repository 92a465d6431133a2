"""``pointsman db``: migrate the store and show its revision.

The database is the ``store:`` section of ``--config`` (if given), or ``--url`` /
``$POINTSMAN_DATABASE_URL``, or the default SQLite file ``pointsman.db``. The store modules
(SQLAlchemy, Alembic) are imported inside the commands so other commands start fast.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
import yaml
from rich.console import Console

if TYPE_CHECKING:
    from pointsman.store.settings import StoreSettings

db_app = typer.Typer(no_args_is_help=True, help="Migrate and inspect the store database.")
console = Console(stderr=True)

UrlOption = Annotated[
    str | None,
    typer.Option("--url", envvar="POINTSMAN_DATABASE_URL", help="Database URL (overrides config)."),
]
ConfigOption = Annotated[
    Path | None, typer.Option("--config", "-c", help="YAML config whose store: section to use.")
]


def store_settings(config: Path | None, url: str | None) -> tuple[StoreSettings, str]:
    from pointsman.store.settings import store_settings_from

    section = None
    if config is not None:
        try:
            data = yaml.safe_load(config.read_text(encoding="utf-8")) or {}
        except (OSError, yaml.YAMLError) as error:
            console.print(f"[bold red]{config}[/]: cannot read: {error}")
            raise typer.Exit(2) from None
        section = data.get("store") if isinstance(data, dict) else None
    try:
        settings = store_settings_from(section)
        return settings, url or settings.resolved_url()
    except (ValueError, KeyError) as error:
        console.print(f"[bold red]store settings[/]: {error}")
        raise typer.Exit(2) from None


def _safe(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


@db_app.command("upgrade")
def db_upgrade(
    config: ConfigOption = None,
    url: UrlOption = None,
    revision: Annotated[str, typer.Option(help="Target revision.")] = "head",
) -> None:
    """Apply the packaged migrations (idempotent)."""
    from pointsman.store.engine import create_engine
    from pointsman.store.migrate import current, upgrade

    settings, target = store_settings(config, url)

    async def run() -> tuple[str | None, str]:
        engine = create_engine(settings, url=target)
        try:
            before = await current(engine)
            return before, await upgrade(engine, revision, schema=settings.schema)
        finally:
            await engine.dispose()

    before, after = asyncio.run(run())
    change = "already at" if before == after else f"{before or '(empty)'} →"
    console.print(f"[green]ok[/]: {_safe(target)}: {change} {after}")


@db_app.command("current")
def db_current(config: ConfigOption = None, url: UrlOption = None) -> None:
    """Print the database's revision and the newest one this version ships."""
    from pointsman.store.engine import create_engine
    from pointsman.store.migrate import current, head

    settings, target = store_settings(config, url)

    async def run() -> str | None:
        engine = create_engine(settings, url=target)
        try:
            return await current(engine)
        finally:
            await engine.dispose()

    revision = asyncio.run(run())
    latest = head()
    state = "up to date" if revision == latest else "needs `pointsman db upgrade`"
    typer.echo(f"{revision or '(not migrated)'} (head: {latest}; {state})")
