"""Budget alerts reach the webhook once per threshold; downgrades; anomaly alerts once a day."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import openai
import pytest
from aiohttp import web

from pointsman.governance.alerts import AlertSink
from pointsman.governance.anomaly import AnomalyWatch
from pointsman.state.memory import MemoryBackend
from pointsman.store.engine import create_engine
from pointsman.store.migrate import upgrade
from pointsman.store.settings import StoreSettings
from pointsman.store.tables import daily_rollups

from ..conftest import GatewayFactory
from .admin_client import admin, fire


@pytest.fixture
async def webhook() -> AsyncIterator[tuple[str, list[dict[str, Any]]]]:
    received: list[dict[str, Any]] = []

    async def hook(request: web.Request) -> web.Response:
        received.append(await request.json())
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_post("/hook", hook)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    yield f"http://127.0.0.1:{port}/hook", received
    await runner.cleanup()


async def team_key(url: str, **budget: Any) -> tuple[str, str]:
    org = await admin(url, "POST", "/orgs", {"name": "acme"})
    team = await admin(url, "POST", "/teams", {"org_id": org["id"], "name": "t"})
    issued = await admin(url, "POST", "/keys", {"name": "k", "team_id": team["id"]})
    await admin(url, "PUT", "/budgets", {"scope_kind": "team", "scope_id": team["id"], **budget})
    return team["id"], issued["secret"]


async def test_budget_alerts_fire_once_per_threshold(
    start_gateway: GatewayFactory, webhook: tuple[str, list[dict[str, Any]]]
) -> None:
    hook, received = webhook
    async with start_gateway(governance={"alert_webhook": hook}) as url:
        # soft budget of 100 micro-USD: about 20 requests reach it, it may overrun to 120 %
        _, secret = await team_key(url, limit_usd=0.0001, hard=False)
        outcomes = await fire([url], secret, 60)
        await asyncio.sleep(0.3)  # webhook deliveries are fire-and-forget
    percents = sorted(alert["percent"] for alert in received)
    assert percents[:2] == [70, 100], received
    assert len(percents) == len(set(percents))  # never twice for one threshold
    assert outcomes["budget_exceeded"] > 0  # the soft ceiling (120 %) still refuses


async def test_downgrade_to_cheaper_alias(start_gateway: GatewayFactory) -> None:
    async with start_gateway() as url:
        _, secret = await team_key(
            url, limit_usd=0.002, downgrade_alias="instant", downgrade_threshold=0.5
        )
        async with openai.AsyncOpenAI(
            base_url=f"{url}/v1", api_key=secret, max_retries=0
        ) as client:
            served: list[str] = []
            for _ in range(10):  # a 40-token sim-large answer costs ~ 400 micro-USD
                raw = await client.chat.completions.with_raw_response.create(
                    model="smart", messages=[{"role": "user", "content": "hi"}], max_tokens=40
                )
                served.append(raw.headers["x-pointsman-deployment"])
                if "x-pointsman-downgrade" in raw.headers:
                    assert raw.headers["x-pointsman-downgrade"].startswith("smart->instant (")
                    break
    assert served[0] == "sim/sim-large"
    assert served[-1] == "sim/sim-instant"


async def test_anomaly_alerts_once_per_day(tmp_path: Path) -> None:
    engine = create_engine(StoreSettings(url=f"sqlite+aiosqlite:///{tmp_path}/a.db"))
    await upgrade(engine)
    today = datetime.now(UTC).date()
    rows = [
        {"day": today - timedelta(days=n), "org_id": "o", "team_id": "t", "key_id": "k",
         "model": "m", "feature": "", "requests": 1, "prompt_tokens": 100,
         "completion_tokens": 100, "cached_tokens": 0, "reasoning_tokens": 0,
         "cost_micros": 2_000_000 if n else 9_000_000}
        for n in range(8)
    ]  # fmt: skip
    async with engine.begin() as conn:
        await conn.execute(daily_rollups.insert(), rows)
    sink = AlertSink()
    watch = AnomalyWatch(engine, MemoryBackend(), sink, min_cost_usd=1.0)
    first = await watch.check()
    second = await watch.check()
    await engine.dispose()
    assert sorted((a.scope, a.measure) for a in first) == [
        ("key", "spend"), ("org", "spend"), ("team", "spend")
    ]  # fmt: skip
    assert second == []
    assert sink.counts[("anomaly", "spend")] == 3


async def test_webhook_unreachable_is_logged_not_raised(caplog: pytest.LogCaptureFixture) -> None:
    sink = AlertSink("http://127.0.0.1:9/nothing-listens-here")
    sink.emit("budget", "70%", budget="x", percent=70)
    await sink.close()
    assert "alert webhook unreachable" in caplog.text
