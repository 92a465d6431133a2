"""The dashboard's endpoints over real sockets: who may read them, and what they show."""

from __future__ import annotations

import json
from pathlib import Path

import aiohttp
import pytest

from pointsman.app import create_app
from pointsman.config import parse_config
from pointsman.local import serve_app
from pointsman.simulator.server import SimServer

from ..conftest import ENV, MASTER_KEY, GatewayFactory, gateway_config
from .scenario import MODELS, prepare, run_traffic
from .traffic import pick, scrape


async def get(url: str, path: str, key: str | None = None) -> tuple[int, dict[str, str], bytes]:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"{url}{path}", headers=headers) as r,
    ):
        return r.status, {k.lower(): v for k, v in r.headers.items()}, await r.read()


async def test_summary_shows_slo_cost_budgets_health_and_events(
    start_gateway: GatewayFactory, sim: SimServer
) -> None:
    async with start_gateway(models=MODELS) as url:
        keys = await prepare(sim.port, url)
        statuses = await run_traffic(url, keys, seconds=2.5, clients=6)
        assert statuses[200] > 20
        assert statuses[429] > 0  # the labs team's budget
        async with aiohttp.ClientSession() as session:
            headers = {"Authorization": f"Bearer {MASTER_KEY}"}
            async with session.get(f"{url}/ui/api/summary", headers=headers) as response:
                assert response.status == 200
                assert response.headers["cache-control"] == "no-store"
                summary = await response.json()

    overall = summary["overall"]
    assert overall["requests"] == sum(statuses.values())
    assert 0 < overall["success_rate"] < 1
    assert overall["goodput"] > 0
    assert 0 < overall["compliance"] < 1  # bulk misses its SLO, the rest meet it
    assert overall["fallback_rate"] > 0
    assert 0 < overall["top_tier_share"] < 1
    assert overall["cost_per_success_usd"] > 0
    assert overall["ttft"]["p50"] is not None

    aliases = {row["alias"]: row for row in summary["aliases"]}
    assert aliases["fast"]["compliance"] == 1.0
    assert aliases["fast"]["colour"] == "green"
    assert aliases["bulk"]["compliance"] == 0.0
    assert aliases["bulk"]["colour"] == "red"
    assert aliases["bulk"]["ttft"]["p50"] > 0.5
    # calls to the down deployment fail over until its breaker opens; later requests skip it
    assert 0 < aliases["resilient"]["fallback_rate"] <= 1.0

    columns = summary["timeline"]["columns"]
    rows = summary["timeline"]["rows"]
    assert 60 <= len(rows) <= 300  # since start, a minute at least
    assert sum(row[columns.index("requests")] for row in rows) == overall["requests"]

    teams = {row["name"] for row in summary["teams"]}
    assert len(teams) == 2  # search and support paid; labs was refused before spending
    assert {row["name"] for row in summary["models"]} >= {"sim/sim-small", "sim/sim-large"}
    tiers = {row["tier"]: row for row in summary["tiers"]}
    assert tiers["premium"]["top"] is True
    assert "economy" in tiers

    deployments = {row["name"]: row for row in summary["deployments"]}
    assert deployments["sim/sim-down"]["state"] == "open"
    assert deployments["sim/sim-small"]["state"] == "closed"
    assert deployments["sim/sim-large"]["tier"] == "premium"

    assert {event["kind"] for event in summary["refusals"]} == {"refusal"}
    refusal = summary["refusals"][0]
    assert refusal["cause"] == "budget_exceeded"
    assert refusal["status"] == 429
    fallback = next(e for e in summary["events"] if e["kind"] == "fallback")
    assert (fallback["from"], fallback["to"]) == ("sim/sim-down", "sim/sim-small")


async def test_budget_use_is_read_off_the_request_path(sim: SimServer, tmp_path: Path) -> None:
    config = parse_config(gateway_config(sim.port, tmp_path, models=MODELS), env=ENV)
    app = create_app(config)
    async with serve_app(app) as url:
        keys = await prepare(sim.port, url)
        await run_traffic(url, keys, seconds=1.0, clients=4)
        watch = app.runtime.observe.budgets
        assert watch is not None
        await watch.refresh()  # what the watch does every few seconds in the background
        _, _, body = await get(url, "/ui/api/summary", MASTER_KEY)
        metrics = await scrape(url)
    budgets = {row["subject"]: row for row in json.loads(body)["budgets"]}
    assert len(budgets) == 3  # the three teams, each seen in traffic
    spending = [row for row in budgets.values() if row["limit_usd"] == 5.0]
    assert len(spending) == 1
    search = spending[0]
    assert (search["scope"], search["period"], search["mode"]) == ("team", "monthly", "hard")
    assert search["spent_usd"] > 0
    assert search["share"] == pytest.approx(
        (search["spent_usd"] + search["reserved_usd"]) / 5.0, abs=1e-4
    )
    labs = next(row for row in budgets.values() if row["limit_usd"] == 0.001)
    assert labs["spent_usd"] == 0  # every labs request was refused before it could spend
    assert {row["label"] for row in budgets.values()} == {"search", "support", "labs"}
    used = metrics["pointsman_budget_used_ratio"]
    assert pick(used, scope="team", subject=search["subject"]) == search["share"]


async def test_only_admins_read_the_dashboard(start_gateway: GatewayFactory) -> None:
    async with start_gateway() as url:
        status, headers, page = await get(url, "/ui")
        assert status == 200  # the page itself holds no data; it asks for a key
        assert b"Pointsman" in page
        assert headers["content-security-policy"].startswith("default-src 'self'")
        assert (await get(url, "/ui/static/charts.js"))[0] == 200
        assert (await get(url, "/ui/static/../app.py"))[0] == 404
        assert (await get(url, "/ui/static/nope.js"))[0] == 404
        assert (await get(url, "/ui/api/summary"))[0] == 401
        assert (await get(url, "/ui/api/summary", "not-a-key"))[0] == 401
        assert (await get(url, "/ui/api/summary", MASTER_KEY))[0] == 200
    async with start_gateway(observe={"dashboard": False}) as url:
        assert (await get(url, "/ui"))[0] == 404
        assert (await get(url, "/ui/api/summary", MASTER_KEY))[0] == 404
