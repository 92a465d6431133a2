"""A real browser loads /ui while traffic flows: every main panel must show live data.

Headless Chromium (Debian's ``chromium`` package) driven by Playwright; Playwright's own
browser downloads are never used. Outside CI the test skips when Chromium is not installed;
in CI (``CI=true``) a missing browser is a failure, because ``.ci/run`` installs it. The page
is saved as ``test-output/dashboard.png`` for a person to look at.
"""

from __future__ import annotations

import asyncio
import os
import shutil
from pathlib import Path

import pytest

from pointsman.simulator.server import SimServer

from ..conftest import MASTER_KEY, GatewayFactory
from .scenario import MODELS, prepare, run_traffic

CHROMIUM = os.environ.get("POINTSMAN_CHROMIUM", "/usr/bin/chromium")
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]


def chromium() -> str:
    path = CHROMIUM if Path(CHROMIUM).exists() else shutil.which("chromium")
    if path is None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"Chromium is not installed ({CHROMIUM}); .ci/run should have installed it")
        pytest.skip(f"Chromium is not installed ({CHROMIUM}); apt-get install -y chromium")
    return path


async def test_dashboard_shows_live_data(
    start_gateway: GatewayFactory, sim: SimServer, output_dir: Path
) -> None:
    executable = chromium()
    async_api = pytest.importorskip("playwright.async_api")
    async with start_gateway(models=MODELS) as url:
        keys = await prepare(sim.port, url)
        traffic = asyncio.create_task(run_traffic(url, keys, seconds=9.0, clients=6))
        try:
            async with async_api.async_playwright() as playwright:
                browser = await playwright.chromium.launch(executable_path=executable, args=FLAGS)
                page = await browser.new_page(viewport={"width": 1600, "height": 1250})
                errors: list[str] = []
                page.on("pageerror", lambda error: errors.append(str(error)))
                await page.goto(f"{url}/ui")
                await page.fill("#key", MASTER_KEY)
                await page.click("#login-form button")
                await page.wait_for_selector("#conn.green", timeout=10_000)
                await asyncio.sleep(5.0)  # let a few seconds of traffic reach the charts
                await page.wait_for_function(
                    "document.querySelectorAll('#refusals tr').length > 2", timeout=10_000
                )
                shown = await page.evaluate(
                    """() => ({
                        rps: document.getElementById('t-rps').textContent,
                        success: document.getElementById('t-success').textContent,
                        goodput: document.getElementById('t-goodput').textContent,
                        gauge: document.querySelector('#gauge text').textContent,
                        traffic: document.querySelectorAll('#c-traffic path').length,
                        ttft: document.querySelectorAll('#c-ttft path').length,
                        tpot: document.querySelectorAll('#c-tpot path').length,
                        aliases: [...document.querySelectorAll('#aliases tr td:first-child')]
                            .map(td => td.textContent),
                        deployments: [...document.querySelectorAll('#deployments .pill')]
                            .map(p => p.textContent),
                        teams: document.querySelectorAll('#cost-team .bar-row').length,
                        models: document.querySelectorAll('#cost-model .bar-row').length,
                        budgets: document.querySelectorAll('#budgets .bar-row').length,
                        tiers: document.getElementById('tiers').textContent,
                        events: [...document.querySelectorAll('#events td:nth-child(2)')]
                            .map(td => td.textContent),
                        refusals: [...document.querySelectorAll('#refusals td:nth-child(2)')]
                            .map(td => td.textContent),
                    })"""
                )
                await page.screenshot(path=str(output_dir / "dashboard.png"), full_page=True)
                await browser.close()
        finally:
            await traffic
    assert errors == []
    assert float(shown["rps"]) > 0
    assert shown["success"].endswith("%")
    assert float(shown["goodput"]) > 0
    assert shown["gauge"].endswith("%")
    assert shown["traffic"] >= 2 and shown["ttft"] >= 3 and shown["tpot"] >= 3
    assert {"fast", "smart", "bulk", "resilient"} <= set(shown["aliases"])
    assert "open" in shown["deployments"] and "closed" in shown["deployments"]
    assert shown["teams"] >= 2 and shown["models"] >= 2 and shown["budgets"] >= 2
    assert "premium" in shown["tiers"] and "economy" in shown["tiers"]
    assert "fallback" in shown["events"]
    assert "budget_exceeded" in shown["refusals"]
