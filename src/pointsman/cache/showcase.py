"""The demo's cache step: repeated questions answered from the cache, with the cost saved."""

from __future__ import annotations

import time
from typing import Any

from rich.table import Table

__all__ = ["QUESTIONS", "repeated_questions"]

QUESTIONS = (
    "What is the boiling point of water at sea level?",
    "Name three uses of a railway turntable.",
    "Summarise what an LLM gateway does in one sentence.",
)


async def repeated_questions(base_url: str, master_key: str, alias: str = "fast") -> Table:
    """Ask each question twice at temperature 0 through the official SDK; the second answer
    comes from the cache. Returns a table with each call's cache status and latency, and a
    summary row with what the hits saved (from ``GET /admin/v1/cache/stats``)."""
    import aiohttp
    import openai

    table = Table(title="Repeated questions served from the cache (SIMULATED upstream)")
    for column in ("question", "1st call", "repeat", "same answer"):
        table.add_column(column)
    async with openai.AsyncOpenAI(base_url=f"{base_url}/v1", api_key=master_key) as client:
        for question in QUESTIONS:
            calls: list[tuple[str, float, str]] = []
            for _ in range(2):
                started = time.perf_counter()
                raw = await client.chat.completions.with_raw_response.create(
                    model=alias,
                    messages=[{"role": "user", "content": question}],
                    temperature=0,
                )
                text = raw.parse().choices[0].message.content or ""
                elapsed = (time.perf_counter() - started) * 1000
                calls.append((raw.headers.get("x-pointsman-cache", "-"), elapsed, text))
            (first, t1, a1), (second, t2, a2) = calls
            table.add_row(question, f"{first} {t1:.0f} ms", f"{second} {t2:.1f} ms", str(a1 == a2))
    headers = {"Authorization": f"Bearer {master_key}"}
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"{base_url}/admin/v1/cache/stats", headers=headers) as response,
    ):
        stats: dict[str, Any] = await response.json()
    totals = stats["totals"]
    table.add_row(
        "cache totals",
        f"{totals['misses']} misses",
        f"{totals['hits'] + totals['semantic_hits']} hits",
        f"saved ${totals['saved_usd']:.6f}",
        style="bold",
    )
    return table
