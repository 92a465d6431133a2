"""The ``pointsman`` command line."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from pointsman.cli_cache import cache_app
from pointsman.cli_db import db_app
from pointsman.cli_governance import register
from pointsman.cli_route import route_app
from pointsman.config import ConfigError, load_config

app = typer.Typer(no_args_is_help=True, add_completion=False, help="Pointsman LLM gateway.")
config_app = typer.Typer(no_args_is_help=True, help="Work with configuration files.")
app.add_typer(config_app, name="config")
app.add_typer(route_app, name="route")
app.add_typer(db_app, name="db")
app.add_typer(cache_app, name="cache")
register(app)
console = Console(stderr=True)

ConfigPath = Annotated[Path, typer.Option("--config", "-c", help="YAML config file.")]


def _load(path: Path):  # type: ignore[no-untyped-def]
    try:
        return load_config(path)
    except ConfigError as error:
        _print_problems(error)
        raise typer.Exit(2) from None


def _print_problems(error: ConfigError) -> None:
    console.print(f"[bold red]{error.source}: {len(error.problems)} problem(s)[/]")
    for problem in error.problems:
        path, _, detail = problem.partition(": ")
        console.print(f"  [yellow]{path}[/]: {detail}")


@app.command()
def serve(
    config: ConfigPath = Path("pointsman.yaml"),
    host: Annotated[str | None, typer.Option(help="Bind address (default: server.host).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default: server.port).")] = None,
    workers: Annotated[int | None, typer.Option(help="Worker processes.")] = None,
) -> None:
    """Serve the gateway. SIGHUP reloads the config file atomically."""
    from pointsman.server.serve import serve as run

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    loaded = _load(config)
    server = loaded.server
    run(
        loaded,
        config,
        host or server.host,
        port if port is not None else server.port,
        workers or server.workers,
    )


@app.command()
def simulate(
    host: Annotated[str, typer.Option(help="Bind address.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port.")] = 9100,
    profiles: Annotated[Path | None, typer.Option(help="YAML file of model profiles.")] = None,
    api_key: Annotated[str | None, typer.Option(envvar="SIM_KEY", help="Require this key.")] = None,
) -> None:
    """Run the simulated LLM provider (labelled simulated in every answer)."""
    from pointsman.simulator.server import run

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    run(host, port, profiles, api_key)


@config_app.command("check")
def config_check(path: Annotated[Path, typer.Argument(help="YAML config file.")]) -> None:
    """Validate a config file and explain every problem."""
    loaded = _load(path)
    aliases = loaded.aliases()
    console.print(
        f"[green]ok[/]: {path}: {len(loaded.providers)} provider(s), {len(aliases)} alias(es)"
    )
    for alias, spec in aliases.items():
        targets = ", ".join(f"{d.provider}/{d.model} (w={d.weight:g})" for d in spec.deployments)
        console.print(f"  [cyan]{alias}[/] → {targets}")


@app.command()
def demo(
    requests: Annotated[int, typer.Option(help="How many requests to send.")] = 200,
    concurrency: Annotated[int, typer.Option(help="Requests in flight at once.")] = 16,
) -> None:
    """Start a simulated upstream and the gateway in-process and drive a scripted workload."""
    from pointsman.demo import run_demo

    raise typer.Exit(run_demo(requests=requests, concurrency=concurrency))


def main() -> None:
    app()


if __name__ == "__main__":
    main()
