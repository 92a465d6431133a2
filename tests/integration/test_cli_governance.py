"""The governance CLI against a real store, and a gateway that honours what it wrote."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import openai
from typer.testing import CliRunner

from pointsman.cli import app

from .conftest import GatewayFactory

runner = CliRunner()


def cli(url: str, *args: str) -> str:
    result = runner.invoke(app, [*args, "--url", url])
    assert result.exit_code == 0, result.output
    return result.output


async def test_keys_budgets_spend(start_gateway: GatewayFactory, tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path}/pointsman.db"  # the store start_gateway uses
    org = re.search(r"org_\w+", await asyncio.to_thread(cli, url, "orgs", "create", "acme"))
    assert org
    team_out = await asyncio.to_thread(cli, url, "teams", "create", org.group(), "search")
    team = re.search(r"team_\w+", team_out)
    assert team
    key_out = await asyncio.to_thread(cli, url, "keys", "create", "bot", "--team", team.group())
    secret = re.search(r"pm-[\w-]+", key_out)
    assert secret
    budget = ("budgets", "set", "--scope", "team", "--id", team.group(), "--limit-usd", "5")
    assert "hard $5 monthly" in await asyncio.to_thread(cli, url, *budget)

    async with (
        start_gateway() as gateway,
        openai.AsyncOpenAI(
            base_url=f"{gateway}/v1", api_key=secret.group(), max_retries=0
        ) as client,
    ):
        reply = await client.chat.completions.create(
            model="instant", messages=[{"role": "user", "content": "hi"}]
        )
        assert reply.choices[0].message.content
    # the gateway drained its usage queue at shutdown
    report = await asyncio.to_thread(cli, url, "spend", "--by", "team")
    row = next(line for line in report.splitlines() if team.group()[:10] in line)
    cells = [cell.strip() for cell in row.strip("│ ").split("│")]
    assert cells[1] == "1", report  # one request recorded for the team
    assert float(cells[4]) > 0, report  # and priced

    listed = await asyncio.to_thread(cli, url, "keys", "list")
    key_id = re.search(r"key_\w+", key_out)
    assert key_id and "bot" in listed
    assert "revoked" in await asyncio.to_thread(cli, url, "keys", "revoke", key_id.group())
