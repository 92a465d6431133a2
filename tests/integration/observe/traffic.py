"""Helpers for the observe integration tests: steer the simulator, send traffic, scrape."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
from prometheus_client.parser import text_string_to_metric_families

from ..conftest import MASTER_KEY

AUTH = {"Authorization": f"Bearer {MASTER_KEY}"}


async def set_profile(sim_port: int, model: str, **fields: Any) -> None:
    """Create or change a simulated model through the control endpoint."""
    async with (
        aiohttp.ClientSession() as session,
        session.put(f"http://127.0.0.1:{sim_port}/_sim/profiles/{model}", json=fields) as response,
    ):
        assert response.status == 200, await response.text()


async def chat(
    session: aiohttp.ClientSession,
    url: str,
    alias: str,
    *,
    stream: bool = True,
    key: str = MASTER_KEY,
    content: str = "hello",
) -> int:
    """One chat request, read to the end; returns the HTTP status."""
    body = {"model": alias, "stream": stream, "messages": [{"role": "user", "content": content}]}
    headers = {"Authorization": f"Bearer {key}"}
    async with session.post(f"{url}/v1/chat/completions", json=body, headers=headers) as response:
        await response.read()
        return response.status


async def burst(url: str, plan: list[tuple[str, bool]], key: str = MASTER_KEY) -> list[int]:
    """Every ``(alias, stream)`` of ``plan`` at once; their statuses in order."""
    async with aiohttp.ClientSession() as session:
        return list(
            await asyncio.gather(*(chat(session, url, a, stream=s, key=key) for a, s in plan))
        )


Samples = dict[tuple[tuple[str, str], ...], float]


async def scrape(url: str, headers: dict[str, str] | None = None) -> dict[str, Samples]:
    """``/metrics`` parsed: sample name -> {sorted label pairs: value}."""
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"{url}/metrics", headers=AUTH if headers is None else headers) as response,
    ):
        assert response.status == 200, await response.text()
        text = await response.text()
    found: dict[str, Samples] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found.setdefault(sample.name, {})[tuple(sorted(sample.labels.items()))] = sample.value
    return found


def pick(samples: Samples, **labels: str) -> float:
    """The one sample whose labels include ``labels`` (0 when none matches)."""
    wanted = set(labels.items())
    values = [value for key, value in samples.items() if wanted <= set(key)]
    assert len(values) <= 1, f"{labels} matches {len(values)} samples"
    return values[0] if values else 0.0
