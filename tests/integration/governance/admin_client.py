"""A small client for the admin API, and a fleet of concurrent SDK calls for the race tests."""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

import aiohttp
import openai

from ..conftest import MASTER_KEY


async def admin(url: str, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
    headers = {"Authorization": f"Bearer {MASTER_KEY}"}
    async with (
        aiohttp.ClientSession() as session,
        session.request(method, f"{url}/admin/v1{path}", json=body, headers=headers) as response,
    ):
        data = await response.json()
        if response.status != 200:
            raise AssertionError(f"{method} {path}: HTTP {response.status}: {data}")
        return data


async def provision(url: str, budget_usd: float, team: str = "search") -> tuple[str, str]:
    """An org, a team with a hard monthly budget, and a key in it. Returns (team id, secret)."""
    org = await admin(url, "POST", "/orgs", {"name": "acme"})
    team_row = await admin(url, "POST", "/teams", {"org_id": org["id"], "name": team})
    issued = await admin(url, "POST", "/keys", {"name": f"{team}-key", "team_id": team_row["id"]})
    budget = {"scope_kind": "team", "scope_id": team_row["id"], "limit_usd": budget_usd}
    await admin(url, "PUT", "/budgets", budget)
    return team_row["id"], issued["secret"]


async def fire(urls: list[str], secret: str, count: int, **request: Any) -> Counter[str]:
    """``count`` concurrent chat requests spread over ``urls``; outcomes by kind."""
    clients = [
        openai.AsyncOpenAI(base_url=f"{u}/v1", api_key=secret, max_retries=0, timeout=60)
        for u in urls
    ]
    outcomes: Counter[str] = Counter()

    async def one(n: int) -> None:
        client = clients[n % len(clients)]
        try:
            await client.chat.completions.create(
                model="instant",
                messages=[{"role": "user", "content": f"hello {n % 7}"}],
                max_tokens=10,
                **request,
            )
            outcomes["ok"] += 1
        except openai.RateLimitError as error:
            outcomes[str(error.code)] += 1
        except openai.APIError as error:
            outcomes[f"other:{type(error).__name__}:{error}"] += 1

    await asyncio.gather(*(one(n) for n in range(count)))
    for client in clients:
        await client.close()
    return outcomes


async def team_spend(url: str, team_id: str, expect_requests: int) -> dict[str, Any]:
    """The team's row of the spend report, once the ledger holds ``expect_requests``."""
    row: dict[str, Any] = {}
    for _ in range(100):
        rows = await admin(url, "GET", "/spend?by=team&since=2000-01-01")
        row = next((r for r in rows if r["group"] == team_id), {"requests": 0})
        if row["requests"] >= expect_requests:
            break
        await asyncio.sleep(0.1)
    return row


async def provision_key(url: str, rpm: int) -> tuple[str, str]:
    """A key with an RPM limit. Returns (key id, secret)."""
    issued = await admin(url, "POST", "/keys", {"name": "limited"})
    key_id = issued["key"]["id"]
    await admin(url, "PUT", "/limits", {"scope_kind": "key", "scope_id": key_id, "rpm": rpm})
    return key_id, issued["secret"]
