"""``pointsman db upgrade`` / ``current`` on a real SQLite file and a real PostgreSQL schema."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from typer.testing import CliRunner

from pointsman.cli import app
from pointsman.store.migrate import head

from .conftest import fresh_database

runner = CliRunner()


def test_upgrade_and_current_from_a_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("POINTSMAN_DATABASE_URL", raising=False)
    url = f"sqlite+aiosqlite:///{tmp_path / 'p.db'}"
    result = runner.invoke(app, ["db", "current", "--url", url])
    assert result.exit_code == 0, result.output
    assert "(not migrated)" in result.output and "needs `pointsman db upgrade`" in result.output
    result = runner.invoke(app, ["db", "upgrade", "--url", url])
    assert result.exit_code == 0, result.output
    assert f"(empty) → {head()}" in " ".join(result.output.split())
    result = runner.invoke(app, ["db", "upgrade", "--url", url])
    assert f"already at {head()}" in " ".join(result.output.split())
    result = runner.invoke(app, ["db", "current", "--url", url])
    assert f"{head()} (head: {head()}; up to date)" in result.output


def test_upgrade_reads_the_store_section_of_a_config(tmp_path: Path) -> None:
    db = tmp_path / "from-config.db"
    config = tmp_path / "pointsman.yaml"
    config.write_text(f"store:\n  url: sqlite+aiosqlite:///{db}\n")
    result = runner.invoke(app, ["db", "upgrade", "-c", str(config)])
    assert result.exit_code == 0, result.output
    assert db.is_file()


def test_bad_store_settings_exit_2(tmp_path: Path) -> None:
    config = tmp_path / "pointsman.yaml"
    config.write_text("store:\n  url: mysql://nope\n  colour: red\n")
    result = runner.invoke(app, ["db", "upgrade", "-c", str(config)])
    assert result.exit_code == 2
    assert "store" in result.output


async def test_upgrade_postgresql_schema(tmp_path: Path) -> None:
    async with fresh_database("postgresql", tmp_path) as settings:
        config = tmp_path / "pg.yaml"
        config.write_text(f"store:\n  url: {settings.url}\n  schema: {settings.schema}\n")
        # typer runs its own event loop: run it in a thread, away from this test's loop
        result = await asyncio.to_thread(runner.invoke, app, ["db", "upgrade", "-c", str(config)])
        assert result.exit_code == 0, result.output
        result = await asyncio.to_thread(runner.invoke, app, ["db", "current", "-c", str(config)])
        assert "up to date" in result.output
