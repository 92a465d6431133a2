"""A small, realistic workload for the dashboard tests: several teams, tiers and failures.

``fast`` (economy) and ``smart`` (premium) meet the interactive SLO; ``bulk`` runs on a model
whose first token takes 700 ms, so it misses it; ``resilient`` lists a deployment that is down
before a healthy one, so its requests fall back until the breaker opens (then they skip it);
the ``labs`` team's hard budget is far below one request's worst case, so its requests are
refused with ``budget_exceeded``. :func:`run_traffic` keeps a bounded number of clients busy
for a bounded time.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections import Counter
from dataclasses import dataclass
from typing import Any

import aiohttp

from ..governance.admin_client import admin
from .traffic import chat, set_profile

MODELS: dict[str, Any] = {
    "fast": [{"provider": "sim", "model": "sim-small"}],
    "smart": [{"provider": "sim", "model": "sim-large"}],
    "bulk": [{"provider": "sim", "model": "sim-slow"}],
    "resilient": [
        {"provider": "sim", "model": "sim-down", "weight": 1},
        {"provider": "sim", "model": "sim-small", "weight": 0},
    ],
}


@dataclass
class Keys:
    search: str
    support: str
    labs: str


async def prepare(sim_port: int, url: str) -> Keys:
    """Simulated models for the aliases, and three teams with budgets and keys."""
    await set_profile(sim_port, "sim-slow", ttft_ms=700, tokens_per_s=80, output_tokens=24)
    await set_profile(sim_port, "sim-down", down=True)
    org = await admin(url, "POST", "/orgs", {"name": "acme"})
    secrets = []
    for team, limit in (("search", 5.0), ("support", 0.01), ("labs", 0.001)):
        row = await admin(url, "POST", "/teams", {"org_id": org["id"], "name": team})
        issued = await admin(url, "POST", "/keys", {"name": f"{team}-key", "team_id": row["id"]})
        budget = {"scope_kind": "team", "scope_id": row["id"], "limit_usd": limit}
        await admin(url, "PUT", "/budgets", budget)
        secrets.append(issued["secret"])
    return Keys(*secrets)


def plan(keys: Keys) -> list[tuple[str, str, bool]]:
    """One round of ``(alias, key, stream)``; clients cycle through it."""
    return [
        ("fast", keys.support, True),
        ("smart", keys.labs, True),
        ("smart", keys.search, True),
        ("fast", keys.support, False),
        ("resilient", keys.support, True),
        ("bulk", keys.search, True),
        ("fast", keys.search, True),
        ("fast", keys.support, True),
        ("fast", keys.search, True),
        ("smart", keys.search, False),
    ]


async def run_traffic(url: str, keys: Keys, seconds: float, clients: int = 8) -> Counter[int]:
    """``clients`` concurrent loops over :func:`plan` for ``seconds``; statuses counted."""
    statuses: Counter[int] = Counter()
    rounds = itertools.cycle(plan(keys))
    deadline = time.monotonic() + seconds

    async def client(session: aiohttp.ClientSession) -> None:
        while time.monotonic() < deadline:
            alias, key, stream = next(rounds)
            statuses[await chat(session, url, alias, stream=stream, key=key)] += 1

    async with aiohttp.ClientSession() as session:
        await asyncio.gather(*(client(session) for _ in range(clients)))
    return statuses
